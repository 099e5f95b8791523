import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { applyMigrations, createLogger, startEmbeddedPostgres } from "@agora/server/testing";
import { withDatabase } from "./urls.js";

export type DatabaseTemplate =
  | { kind: "postgres"; adminUrl: string; template: string; prefix: string }
  | { kind: "embedded"; templateDir: string; workDir: string };

declare module "vitest" {
  export interface ProvidedContext {
    dbTemplate: DatabaseTemplate;
  }
}

/**
 * Migrates one template database per run with the same in-process migrator the server uses
 * (tests/migrations.test.ts checks it agrees with `prisma migrate`); every test file then gets its own copy (CREATE DATABASE ... TEMPLATE, or a copied
 * PGlite data directory), so files run in parallel and never see each other's rows.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = createLogger("warn");
  const adminUrl = process.env.DATABASE_URL;
  const stamp = `${Date.now().toString(36)}${process.pid.toString(36)}`;

  if (adminUrl) {
    const prefix = `agora_t_${stamp}`;
    const template = `${prefix}_tpl`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${template}"`);
    await admin.end();
    await applyMigrations(withDatabase(adminUrl, template), log);
    project.provide("dbTemplate", { kind: "postgres", adminUrl, template, prefix });
    return async () => {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      const { rows } = await client.query<{ datname: string }>(
        "SELECT datname FROM pg_database WHERE datname LIKE $1",
        [`${prefix}%`],
      );
      for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      await client.end();
    };
  }

  const workDir = await mkdtemp(path.join(os.tmpdir(), "agora-test-"));
  const templateDir = path.join(workDir, "template");
  const embedded = await startEmbeddedPostgres(templateDir, 0);
  try {
    await applyMigrations(embedded.url, log);
  } finally {
    await embedded.stop();
  }
  project.provide("dbTemplate", { kind: "embedded", templateDir, workDir });
  return async () => {
    await rm(workDir, { recursive: true, force: true });
  };
}
