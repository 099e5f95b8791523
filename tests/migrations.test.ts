import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations, createLogger, startEmbeddedPostgres } from "@agora/server/testing";
import { migrateDeploy } from "./support/prisma-cli.js";
import { repoRoot } from "./support/process.js";
import { withDatabase } from "./support/urls.js";

/**
 * The server applies Prisma's migrations in-process (the CLI's Wasm engine costs ~12 s per
 * start here). It must agree with `prisma migrate` on what is applied, both ways, and a broken
 * migration must leave nothing behind.
 */
const log = createLogger("silent");
const adminUrl = process.env.DATABASE_URL;
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

/** An empty database (no migrations, no template) in the suite's mode. */
async function emptyDatabase(): Promise<string> {
  if (adminUrl) {
    const name = `agora_mig_${randomUUID().replace(/-/g, "").slice(0, 12)}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    await admin.end();
    cleanups.push(async () => {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await client.end();
    });
    return withDatabase(adminUrl, name);
  }
  const embedded = await startEmbeddedPostgres(null, 0, { useTemplate: false });
  cleanups.push(() => embedded.stop());
  return embedded.url;
}

function prismaCli(args: string[], url: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      path.join(repoRoot, "node_modules", ".bin", "prisma"),
      [...args, "--config", "prisma.config.ts"],
      {
        cwd: repoRoot,
        env: { ...process.env, DATABASE_URL: url, PRISMA_HIDE_UPDATE_MESSAGE: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const out: string[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c.toString()));
    child.stderr.on("data", (c: Buffer) => out.push(c.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      resolve({ code, output: out.join("") });
    });
  });
}

async function tables(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    );
    return rows.map((r) => r.tablename);
  } finally {
    await client.end();
  }
}

describe("in-process migrations", () => {
  let migrated: string;
  beforeAll(async () => {
    migrated = await emptyDatabase();
  });

  it("applies every migration once; `prisma migrate status` then says the schema is up to date", async () => {
    expect(await applyMigrations(migrated, log)).toEqual([
      "20261122035356_init",
      "20261122100000_marketplace",
      "20261206170000_subscription_tickets",
      "20261206200000_place_order",
    ]);
    expect(await applyMigrations(migrated, log)).toEqual([]);
    expect(await tables(migrated)).toEqual(
      expect.arrayContaining(["users", "markets", "orders", "_prisma_migrations"]),
    );
    const status = await prismaCli(["migrate", "status"], migrated);
    expect(status.output).toContain("Database schema is up to date");
    expect(status.code).toBe(0);
  }, 120_000);

  it("finds nothing to do on a database the Prisma CLI migrated", async () => {
    const url = await emptyDatabase();
    await migrateDeploy(url, log);
    expect(await applyMigrations(url, log)).toEqual([]);
  }, 120_000);

  it("rolls a failing migration back entirely and names it", async () => {
    const url = await emptyDatabase();
    const dir = await mkdtemp(path.join(os.tmpdir(), "agora-migrations-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await cp(
      path.join(repoRoot, "prisma", "migrations", "20261122035356_init"),
      path.join(dir, "20261122035356_init"),
      {
        recursive: true,
      },
    );
    const broken = path.join(dir, "20261122200000_broken");
    await cp(path.join(repoRoot, "prisma", "migrations", "20261122035356_init"), broken, { recursive: true });
    await writeFile(
      path.join(broken, "migration.sql"),
      'CREATE TABLE "half_done" (id int);\nALTER TABLE "no_such_table" ADD COLUMN x int;\n',
    );
    await expect(applyMigrations(url, log, dir)).rejects.toThrow(
      /20261122200000_broken failed and was rolled back/,
    );
    const after = await tables(url);
    expect(after).toContain("users"); // the good one stays applied
    expect(after).not.toContain("half_done");
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const { rows } = await client.query<{ migration_name: string }>(
      'SELECT migration_name FROM "_prisma_migrations"',
    );
    await client.end();
    expect(rows.map((r) => r.migration_name)).toEqual(["20261122035356_init"]);
  });
});
