import { spawn } from "node:child_process";
import { access, mkdir } from "node:fs/promises";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import pg from "pg";
import { repoRoot, type Config } from "../config.js";
import { PrismaClient } from "../generated/prisma/client.js";
import { DataDirLockedError, lockDataDir } from "./data-dir-lock.js";
import { ensurePostgresDatabase } from "./db-startup.js";
import { copyTemplateInto, PGLITE_START_PARAMS, readTemplate } from "./embedded-template.js";
import type { Logger } from "./logger.js";
import { applyMigrations } from "./migrate.js";
import { GuardedPrismaPg } from "./prisma-pg.js";
import { Sql } from "./sql.js";
import { errorCode, messageOf, StartupError } from "./startup-error.js";

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
  /** Adds a listener for every SQL statement Prisma or `sql` sends; returns a remover. */
  onQuery(listener: (sql: string) => void): () => void;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

/** Why DATA_DIR cannot be used, from the error of creating or writing in it. */
function dataDirProblem(dataDir: string, error: unknown): string {
  const code = errorCode(error);
  const uid = process.getuid?.();
  const user = uid === undefined ? "this user" : `this user (uid ${String(uid)})`;
  if (code === "EACCES" || code === "EPERM" || code === "EROFS")
    return `DATA_DIR ${dataDir} is not writable by ${user} (${code}): give it to that user, or set DATA_DIR to a folder it may write`;
  if (code === "EEXIST" || code === "ENOTDIR")
    return `DATA_DIR ${dataDir} is not a folder (${code}: a file is in the way): set DATA_DIR to a folder`;
  return `DATA_DIR ${dataDir} cannot be used: ${messageOf(error)}`;
}

/**
 * Starts PostgreSQL compiled to Wasm (PGlite) behind a wire-protocol socket on loopback, so
 * the server and the Prisma migration CLI reach it exactly as they reach a real server.
 */
export async function startEmbeddedPostgres(
  dataDir: string | null,
  port: number,
  options: { useTemplate?: boolean; log?: Logger } = {},
): Promise<EmbeddedPostgres> {
  const { log } = options;
  let release: (() => Promise<void>) | null = null;
  if (dataDir) {
    try {
      await mkdir(dataDir, { recursive: true });
    } catch (error) {
      throw new StartupError(dataDirProblem(dataDir, error));
    }
    // Two processes on one PGlite data directory would corrupt it: hold a lock while open.
    try {
      const lock = await lockDataDir(dataDir);
      release = () => lock.release();
    } catch (error) {
      if (error instanceof DataDirLockedError) throw error;
      // Not a lock held by someone else (e.g. no permission to write in DATA_DIR).
      throw new StartupError(dataDirProblem(dataDir, error));
    }
  }
  // A new database starts from the migrated template when there is one (see embedded-template.ts).
  const fresh = dataDir === null || !(await exists(path.join(dataDir, "PG_VERSION")));
  let db: PGlite;
  let server: PGLiteSocketServer;
  try {
    const useTemplate = fresh && options.useTemplate !== false;
    // A new folder is copied from the template's folder form; memory loads its tarball.
    let copied = false;
    if (useTemplate && dataDir) {
      try {
        copied = await copyTemplateInto(dataDir);
      } catch (error) {
        throw new StartupError(dataDirProblem(dataDir, error));
      }
    }
    const template = useTemplate && !copied ? await readTemplate() : null;
    // The first start takes seconds before anything else is logged: say what is happening.
    const where = dataDir ?? "memory (DATA_DIR=:memory:)";
    if (!fresh) log?.info({ dataDir }, `opening the embedded database in ${where}`);
    else if (copied || template)
      log?.info(
        { dataDir },
        `creating the embedded database in ${where} from the migrated template (a few seconds)`,
      );
    else
      log?.info(
        { dataDir },
        `creating the embedded database in ${where}: initialising PostgreSQL, then the migrations (10 s or more; ` +
          "`pnpm db:prepare-embedded` prepares a template that makes this faster)",
      );
    try {
      db = await PGlite.create({
        startParams: [...PGLITE_START_PARAMS],
        ...(dataDir ? { dataDir } : {}),
        ...(template ? { loadDataDir: template } : {}),
      });
    } catch (error) {
      throw new StartupError(
        `the embedded database in ${where} could not be opened (${messageOf(error)}): ` +
          "if the folder is damaged or was written by another PGlite version, move it away (a new database is created in its place) or set DATA_DIR to another folder",
      );
    }
    server = new PGLiteSocketServer({ db, host: "127.0.0.1", port, maxConnections: 64 });
    await server.start();
  } catch (error) {
    await release?.();
    throw error;
  }
  const address = server.getServerConn();
  return {
    url: `postgresql://postgres:postgres@${address}/postgres?sslmode=disable`,
    async stop() {
      await server.stop();
      await db.close();
      await release?.();
    },
  };
}

/**
 * Applies committed migrations with Prisma's own CLI (`prisma migrate deploy`). The server
 * uses the in-process `applyMigrations` instead; this stays for checking that both agree.
 */
export async function migrateDeploy(url: string, log: Logger): Promise<void> {
  const started = Date.now();
  const prismaBin = path.join(repoRoot, "node_modules", ".bin", "prisma");
  const output: string[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(prismaBin, ["migrate", "deploy", "--config", "prisma.config.ts"], {
      cwd: repoRoot,
      env: { ...process.env, DATABASE_URL: url, PRISMA_HIDE_UPDATE_MESSAGE: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    child.on("error", reject);
    child.on("close", resolve);
  });
  if (code !== 0) {
    throw new Error(`prisma migrate deploy failed (exit ${String(code)}):\n${output.join("")}`);
  }
  const applied = /(\d+) migrations? found/.exec(output.join(""));
  log.info(
    { ms: Date.now() - started, migrations: applied ? Number(applied[1]) : undefined },
    "migrations applied",
  );
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

/** Starts (embedded) or connects to (real) PostgreSQL, migrates if configured, and connects. */
export async function openDatabase(config: Config, log: Logger): Promise<Database> {
  const dbConfig = config.database;
  let embedded: EmbeddedPostgres | null = null;
  let url: string;
  if (dbConfig.kind === "embedded") {
    const started = Date.now();
    embedded = await startEmbeddedPostgres(dbConfig.dataDir, dbConfig.port, { log });
    url = embedded.url;
    log.info(
      { dataDir: dbConfig.dataDir ?? "(in memory)", ms: Date.now() - started },
      "embedded PostgreSQL (PGlite) started",
    );
  } else {
    url = dbConfig.url;
    await ensurePostgresDatabase(url, log, dbConfig.migrateOnStart);
  }

  try {
    if (dbConfig.migrateOnStart) await applyMigrations(url, log);
    const pool = new pg.Pool({
      connectionString: url,
      max: dbConfig.poolSize,
      // A frozen or unreachable server must not hold calls: waiting for a connection (or
      // opening one) and waiting for an answer are both bounded; a timed-out connection is
      // discarded by the pool (its state is unknown), and the call answers SERVICE_UNAVAILABLE.
      connectionTimeoutMillis: dbConfig.poolTimeoutMs,
      query_timeout: dbConfig.queryTimeoutMs,
      // Real PostgreSQL also stops the statement itself, releasing its locks.
      ...(embedded === null ? { statement_timeout: dbConfig.queryTimeoutMs } : {}),
    });
    pool.on("error", (err) => {
      log.warn({ err: { message: err.message } }, "idle database connection failed");
    });
    const prisma = createPrismaClient(pool);
    const listeners = new Set<(sql: string) => void>();
    prisma.$on("query", (event) => {
      for (const listener of listeners) listener(event.query);
    });
    await prisma.$connect();
    const sql = new Sql(pool, {
      prepare: embedded === null,
      observe: (text) => {
        for (const listener of listeners) listener(text);
      },
    });
    return {
      prisma,
      pool,
      sql,
      url,
      embedded: embedded !== null,
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
        await embedded?.stop();
      },
    };
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}
