import { randomUUID } from "node:crypto";
import { cp, rm } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { inject } from "vitest";
import { withDatabase } from "./urls.js";

export interface TestDatabase {
  readonly kind: "postgres" | "embedded";
  /** DATABASE_URL (real PostgreSQL) or DATA_DIR (embedded), to hand to a server or a CLI. */
  readonly env: Readonly<Record<string, string>>;
  readonly drop: () => Promise<void>;
}

/**
 * With `PGBOUNCER_URL` set (CI's PgBouncer pass), servers reach their database through that
 * PgBouncer in transaction mode (`DB_POOLER=transaction`), and PostgreSQL itself only for
 * what needs a session of its own (`DATABASE_DIRECT_URL`: creating it, migrations).
 */
function serverEnv(adminUrl: string, name: string): Record<string, string> {
  const direct = withDatabase(adminUrl, name);
  const pooler = process.env.PGBOUNCER_URL;
  if (!pooler) return { DATABASE_URL: direct };
  return { DATABASE_URL: withDatabase(pooler, name), DATABASE_DIRECT_URL: direct, DB_POOLER: "transaction" };
}

/**
 * A database of the suite's kind for a test that starts a server on it: a copy of the
 * migrated template, or (`migrated: false`) an empty one, as a first deployment meets.
 */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const migrated = options.migrated ?? true;
  const template = inject("dbTemplate");
  const id = randomUUID().replace(/-/g, "").slice(0, 12);
  if (template.kind === "postgres") {
    const name = `${template.prefix}_${id}`;
    const admin = new pg.Client({ connectionString: template.adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"${migrated ? ` TEMPLATE "${template.template}"` : ""}`);
    await admin.end();
    return {
      kind: "postgres",
      env: serverEnv(template.adminUrl, name),
      async drop() {
        const client = new pg.Client({ connectionString: template.adminUrl });
        await client.connect();
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        await client.end();
      },
    };
  }
  const dir = path.join(template.workDir, `db-${id}`);
  if (migrated) await cp(template.templateDir, dir, { recursive: true });
  return {
    kind: "embedded",
    env: { DATA_DIR: dir },
    drop: () => rm(dir, { recursive: true, force: true }),
  };
}
