import { describe, expect, it } from "vitest";
import { loadConfig } from "@agora/server/testing";

// Behind a pooler in transaction mode (PgBouncer `pool_mode = transaction`). CI's PgBouncer
// pass runs the API, orders, jobs, cache and several-instance suites through PgBouncer 1.18;
// these are the settings' own rules.
describe("DB_POOLER=transaction", () => {
  const url = "postgresql://agora@pgbouncer:6432/agora";
  const direct = "postgresql://agora@postgres:5432/agora";

  it("needs PostgreSQL itself for migrations, and says how to do without", () => {
    expect(() => loadConfig({ DATABASE_URL: url, DB_POOLER: "transaction" })).toThrow(
      /DATABASE_DIRECT_URL: with DB_POOLER=transaction, migrations need PostgreSQL itself.*MIGRATE_ON_START=false/,
    );
    const config = loadConfig({ DATABASE_URL: url, DB_POOLER: "transaction", DATABASE_DIRECT_URL: direct });
    expect(config.database).toMatchObject({
      kind: "postgres",
      url,
      directUrl: direct,
      pooler: "transaction",
    });
    const noMigrations = loadConfig({
      DATABASE_URL: url,
      DB_POOLER: "transaction",
      MIGRATE_ON_START: "false",
    });
    expect(noMigrations.database).toMatchObject({ url, directUrl: url, pooler: "transaction" });
  });

  it("is refused on the embedded database, and a direct URL alone is refused", () => {
    expect(() => loadConfig({ DB_POOLER: "transaction" })).toThrow(/DB_POOLER: a pooler needs DATABASE_URL/);
    expect(() => loadConfig({ DATABASE_DIRECT_URL: direct })).toThrow(
      /DATABASE_DIRECT_URL: set DATABASE_URL too/,
    );
    expect(() => loadConfig({ DATABASE_URL: url, DB_POOLER: "session" })).toThrow(/DB_POOLER/);
  });

  it("defaults to a direct connection: prepared statements and migrations on DATABASE_URL", () => {
    expect(loadConfig({ DATABASE_URL: direct }).database).toMatchObject({
      url: direct,
      directUrl: direct,
      pooler: "none",
    });
  });
});
