import { createHash, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { repoRoot } from "../../shared/paths.js";
import type { Logger } from "../logger.js";
import { messageOf, StartupError } from "../startup-error.js";

export const migrationsDir = path.join(repoRoot, "prisma", "migrations");

/** The lock `prisma migrate` takes too, so this and the CLI never migrate at the same time. */
const PRISMA_MIGRATE_LOCK = 72707369;

/** Prisma's own bookkeeping table, created exactly as `prisma migrate deploy` creates it. */
const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

export interface Migration {
  readonly name: string;
  readonly sql: string;
  /** SHA-256 of the file, as Prisma records it. */
  readonly checksum: string;
}

/** The committed migrations, oldest first (their folder names start with a timestamp). */
export async function readMigrations(dir = migrationsDir): Promise<Migration[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(path.join(dir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    }),
  );
}

/**
 * Applies the committed Prisma migrations that the database lacks, in-process.
 *
 * Equivalent to `prisma migrate deploy` for what this project needs (same files, same
 * `_prisma_migrations` rows and checksums, same advisory lock, so the CLI and this agree on
 * what is applied), without the CLI's start-up: the Wasm schema engine costs about 12 s per
 * run on these machines, which made every first start slow. Each migration runs in one
 * transaction with its bookkeeping row: it is applied entirely or not at all.
 */
export async function applyMigrations(url: string, log: Logger, dir = migrationsDir): Promise<string[]> {
  const started = Date.now();
  const migrations = await readMigrations(dir);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`SELECT pg_advisory_lock(${String(PRISMA_MIGRATE_LOCK)})`);
    await client.query(CREATE_MIGRATIONS_TABLE);
    const { rows } = await client.query<{
      migration_name: string;
      checksum: string;
      finished_at: Date | null;
      rolled_back_at: Date | null;
    }>('SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations"');

    const failed = rows.find((r) => r.finished_at === null && r.rolled_back_at === null);
    if (failed) {
      throw new StartupError(
        `migration ${failed.migration_name} failed earlier and was never resolved: ` +
          `fix the database, then run: pnpm prisma migrate resolve --config prisma.config.ts --applied|--rolled-back ${failed.migration_name}`,
      );
    }
    const applied = new Map(rows.filter((r) => r.finished_at !== null).map((r) => [r.migration_name, r]));
    for (const migration of migrations) {
      const row = applied.get(migration.name);
      if (row && row.checksum !== migration.checksum) {
        log.warn(
          { migration: migration.name },
          "an applied migration was edited afterwards; it is not re-run",
        );
      }
    }

    const pending = migrations.filter((m) => !applied.has(m.name));
    if (pending.length > 0)
      log.info(
        { pending: pending.length },
        `applying ${String(pending.length)} migration${pending.length === 1 ? "" : "s"}`,
      );
    for (const migration of pending) {
      await client.query("BEGIN");
      try {
        await client.query(
          'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())',
          [randomUUID(), migration.checksum, migration.name],
        );
        // No parameters: the simple protocol, which runs the file's many statements.
        await client.query(migration.sql);
        await client.query(
          'UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE migration_name = $1',
          [migration.name],
        );
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK");
        throw new StartupError(`migration ${migration.name} failed and was rolled back: ${messageOf(error)}`);
      }
    }
    if (pending.length > 0) {
      log.info({ ms: Date.now() - started, migrations: pending.map((m) => m.name) }, "migrations applied");
    } else {
      log.info("database schema is up to date");
    }
    return pending.map((m) => m.name);
  } finally {
    await client.query(`SELECT pg_advisory_unlock(${String(PRISMA_MIGRATE_LOCK)})`).catch(() => undefined);
    await client.end();
  }
}
