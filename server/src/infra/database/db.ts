import pg from "pg";
import { PrismaClient } from "../../generated/prisma/client.js";
import { ensurePostgresDatabase } from "./startup.js";
import { launchEmbeddedPostgres, type EmbeddedLaunch } from "./embedded/postgres.js";
import type { Logger } from "../logger.js";
import { applyMigrations } from "./migrate.js";
import { GuardedPrismaPg } from "./prisma-pg.js";
import { Sql } from "./sql.js";

export type Db = PrismaClient<"query">;

/** How long closing waits for connections still in use before giving up on them. */
const POOL_END_TIMEOUT_MS = 5_000;
/** The client inside `db.$transaction(async (tx) => ...)`. */
export type Tx = Parameters<Parameters<Db["$transaction"]>[0]>[0];
export type DbOrTx = Db | Tx;

export interface Database {
  readonly prisma: Db;
  /** The connection pool Prisma runs on; the job queue shares it (the embedded database allows one connection). */
  readonly pool: pg.Pool;
  /** Typed SQL for the hottest reads, on the same pool. */
  readonly sql: Sql;
  readonly url: string;
  readonly embedded: boolean;
  /**
   * Waits for the embedded database to open (or checks that PostgreSQL is reachable) and
   * applies pending migrations if configured. Nothing may use the database before it succeeds.
   */
  open(): Promise<void>;
  /** Adds a listener for every SQL statement Prisma or `sql` sends; returns a remover. */
  onQuery(listener: (sql: string) => void): () => void;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export function createPrismaClient(pool: pg.Pool): Db {
  return new PrismaClient({
    adapter: new GuardedPrismaPg(pool),
    log: [{ emit: "event", level: "query" }],
    // Prisma's defaults (2 s to get a connection, 5 s to finish) fail orders queuing on a hot
    // market's row lock under load; waits past these answer SERVICE_UNAVAILABLE.
    transactionOptions: { maxWait: 10_000, timeout: 20_000 },
  });
}

/** Which database to use and how to talk to it (config.ts reads it from the environment). */
export type DatabaseSettings =
  | {
      readonly kind: "postgres";
      readonly url: string;
      /** PostgreSQL itself, for what needs a session of its own: creating the database, migrations. */
      readonly directUrl: string;
      /**
       * "transaction": `url` is a pooler in transaction mode (PgBouncer `pool_mode = transaction`),
       * which gives each transaction whatever server connection is free: no named prepared
       * statements, no session settings at connect.
       */
      readonly pooler: "none" | "transaction";
      readonly poolSize: number;
      readonly migrateOnStart: boolean;
      /** A statement without an answer after this fails (client side, and statement_timeout). */
      readonly queryTimeoutMs: number;
      /** Waiting this long for a pooled connection (or to open one) fails the call. */
      readonly poolTimeoutMs: number;
    }
  | {
      readonly kind: "embedded";
      readonly dataDir: string | null;
      readonly port: number;
      readonly poolSize: number;
      readonly migrateOnStart: boolean;
      readonly queryTimeoutMs: number;
      readonly poolTimeoutMs: number;
    };

/**
 * Sets up the pool and the Prisma client for the configured database (embedded: launched
 * here unless the caller launched it already, as main.ts does early). Nothing is sent to the
 * database yet, so the rest of the server can be built while the embedded one opens: `open`
 * waits for it (or checks that PostgreSQL is reachable), migrates if configured, and must
 * have succeeded before anything is served.
 */
export async function createDatabase(
  settings: DatabaseSettings,
  log: Logger,
  launched?: EmbeddedLaunch,
  options: {
    /**
     * Load Prisma's query compiler in `open` (while the database opens, after the server
     * listens) instead of here. Only without Redis: see the comment at `$connect` below.
     */
    compileOnOpen?: boolean;
  } = {},
): Promise<Database> {
  const launch =
    settings.kind === "embedded"
      ? (launched ?? (await launchEmbeddedPostgres(settings.dataDir, settings.port, { log })))
      : null;
  /** Stops the embedded database once it has started (a failed start has stopped itself). */
  const stopEmbedded = async () => {
    await launch?.ready.then(
      (database) => database.stop(),
      () => undefined,
    );
  };

  try {
    const url = launch ? await launch.url : settings.kind === "postgres" ? settings.url : "";
    // Creating the database and migrating need a session of their own, which a pooler in
    // transaction mode does not give.
    const directUrl = settings.kind === "postgres" ? settings.directUrl : url;
    const session = settings.kind === "postgres" && settings.pooler === "none";
    const pool = new pg.Pool({
      connectionString: url,
      max: settings.poolSize,
      // A frozen or unreachable server must not hold calls: waiting for a connection (or
      // opening one) and waiting for an answer are both bounded; a timed-out connection is
      // discarded by the pool (its state is unknown), and the call answers SERVICE_UNAVAILABLE.
      connectionTimeoutMillis: settings.poolTimeoutMs,
      query_timeout: settings.queryTimeoutMs,
      // Real PostgreSQL also stops the statement itself, releasing its locks. A setting sent at
      // connect is refused by PgBouncer ("unsupported startup parameter"): behind one, set
      // `statement_timeout` on the role or PgBouncer's `query_timeout` (see docs/several-instances.md).
      ...(session ? { statement_timeout: settings.queryTimeoutMs } : {}),
    });
    pool.on("error", (err) => {
      log.warn({ err: { message: err.message } }, "idle database connection failed");
    });
    const prisma = createPrismaClient(pool);
    const listeners = new Set<(sql: string) => void>();
    prisma.$on("query", (event) => {
      for (const listener of listeners) listener(event.query);
    });
    // Sends nothing (the adapter connects per query), but loads Prisma's query compiler (Wasm,
    // 0.2 s): while the embedded database opens rather than after. Awaited here, before anything
    // else starts: compiling it holds the event loop, which would fail Redis's first commands
    // (REDIS_COMMAND_TIMEOUT_MS, 250 ms) had they been sent meanwhile. Without Redis that cannot
    // happen, and it is done in `open` instead (compileOnOpen), once the server listens.
    if (!options.compileOnOpen) await prisma.$connect();
    const sql = new Sql(pool, {
      // A statement prepared on one server connection is unknown on the next one a transaction
      // pooler hands out (PgBouncer before 1.21 does not track them).
      prepare: session,
      observe: (text) => {
        for (const listener of listeners) listener(text);
      },
    });
    let opening: Promise<void> | null = null;
    return {
      prisma,
      pool,
      sql,
      url,
      embedded: launch !== null,
      open() {
        opening ??= (async () => {
          // Compiled meanwhile (awaited below: a failure is thrown from here).
          const compiled = options.compileOnOpen ? prisma.$connect() : null;
          compiled?.catch(() => undefined);
          if (launch && settings.kind === "embedded") {
            const embedded = await launch.ready;
            // Where a PostgreSQL client (psql) reaches it; the URL, with its fixed password, is not logged.
            log.info(
              { dataDir: settings.dataDir ?? "(in memory)", address: embedded.address, ms: embedded.startMs },
              "embedded PostgreSQL (PGlite) started",
            );
          } else {
            await ensurePostgresDatabase(directUrl, log, settings.migrateOnStart);
          }
          await compiled;
          if (settings.migrateOnStart) await applyMigrations(directUrl, log);
        })();
        return opening;
      },
      onQuery(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      async ping() {
        try {
          await prisma.$queryRaw`SELECT 1`;
          return true;
        } catch {
          return false;
        }
      },
      async close() {
        await prisma.$disconnect();
        // pool.end() waits for every checked-out connection; one never returned must not hold
        // the shutdown for ever.
        let timer: NodeJS.Timeout | undefined;
        const ended = await Promise.race([
          pool.end().then(() => true),
          new Promise<false>((resolve) => {
            timer = setTimeout(() => {
              resolve(false);
            }, POOL_END_TIMEOUT_MS);
          }),
        ]);
        clearTimeout(timer);
        if (!ended) {
          log.warn(
            { checkedOut: pool.totalCount - pool.idleCount },
            "database connections still in use at shutdown: not waiting for them",
          );
        }
        await stopEmbedded();
      },
    };
  } catch (error) {
    await stopEmbedded();
    throw error;
  }
}
