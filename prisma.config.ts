import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { defineConfig } from "prisma/config";

// The Wasm schema engine reads catalog columns of the internal types "char" (OID 18) and
// name (OID 19), which the pg adapter cannot map (prisma/orm#27403). Report them as text.
// This patch lives in the migration CLI process only; the server never loads this file.
interface RowDescription {
  fields: { dataTypeID: number }[];
}
type HandleRowDescription = (this: unknown, msg: RowDescription) => unknown;
const queryProto = (pg as unknown as { Query: { prototype: { handleRowDescription: HandleRowDescription } } })
  .Query.prototype;
const original = queryProto.handleRowDescription;
queryProto.handleRowDescription = function (this: unknown, msg: RowDescription) {
  for (const field of msg.fields) {
    if (field.dataTypeID === 18 || field.dataTypeID === 19) field.dataTypeID = 25;
  }
  return original.call(this, msg);
};

/** PostgreSQL itself: migrations hold a session lock, which a pooler in transaction mode cannot give. */
function databaseUrl(): string {
  const url = process.env.DATABASE_DIRECT_URL ?? process.env.DATABASE_URL;
  if (!url) throw new Error("DATABASE_URL (or DATABASE_DIRECT_URL) must be set for Prisma CLI commands");
  return url;
}

type PgAdapter = Awaited<ReturnType<PrismaPg["connect"]>>;

/**
 * adapter-pg 6.19 runs a migration script by splitting it at every ";", which cuts a function
 * body (`$$ ... $$`, as in the place_order migration) into pieces that do not parse. Send the
 * whole script as one simple-protocol query instead, as the server's own migration runner
 * (server/src/infra/database/migrate.ts) does: PostgreSQL runs its statements in order, in one
 * implicit transaction.
 */
function wholeScripts(adapter: PgAdapter): PgAdapter {
  adapter.executeScript = async (script: string) => {
    await adapter.underlyingDriver().query(script);
  };
  return adapter;
}

class WholeScriptPg extends PrismaPg {
  override async connect(): Promise<PgAdapter> {
    return wholeScripts(await super.connect());
  }
  override async connectToShadowDb(): Promise<PgAdapter> {
    return wholeScripts(await super.connectToShadowDb());
  }
}

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  adapter: () => Promise.resolve(new WholeScriptPg({ connectionString: databaseUrl() })),
});
