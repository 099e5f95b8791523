import { existsSync } from "node:fs";
import { chown, mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { freePort, hasCommand, log, run, runOrThrow } from "./procs.js";

export interface BenchDatabase {
  /** URL of the bench's own database (created for this run). */
  readonly url: string;
  readonly version: string;
  /** "throwaway" when the bench started its own server, "DATABASE_URL" when it used yours. */
  readonly source: "throwaway" | "DATABASE_URL";
  close(): Promise<void>;
}

export const INSTALL_POSTGRES =
  "PostgreSQL was not found. Either set DATABASE_URL to a server where the role may CREATE DATABASE, " +
  "or install the binaries: apt-get update && apt-get install -y postgresql";

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** The newest /usr/lib/postgresql/<major>/bin that has initdb, if any. */
export async function findPostgresBin(): Promise<string | null> {
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return null;
  const majors = (await readdir(base)).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a));
  for (const major of majors) {
    const bin = path.join(base, major, "bin");
    if (existsSync(path.join(bin, "initdb"))) return bin;
  }
  return null;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

async function createBenchDatabase(adminUrl: string, name: string): Promise<string> {
  await query(adminUrl, `CREATE DATABASE "${name}"`);
  return withDatabase(adminUrl, name);
}

async function dropBenchDatabase(adminUrl: string, name: string): Promise<void> {
  await query(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

async function serverVersion(url: string): Promise<string> {
  const rows = await query<{ v: string }>(url, "SELECT current_setting('server_version') AS v");
  return rows[0]?.v ?? "unknown";
}

/**
 * Uses DATABASE_URL when set (creating and later dropping a database of its own), otherwise
 * starts a throwaway PostgreSQL from the image's binaries on a free port and stops it at the end.
 */
export async function openBenchDatabase(): Promise<BenchDatabase> {
  const name = `agora_bench_${Date.now().toString(36)}`;
  const given = process.env.DATABASE_URL?.trim();
  if (given) {
    const url = await createBenchDatabase(given, name);
    return {
      url,
      version: await serverVersion(url),
      source: "DATABASE_URL",
      close: () => dropBenchDatabase(given, name),
    };
  }

  const bin = await findPostgresBin();
  if (!bin) throw new Error(INSTALL_POSTGRES);
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  if (root && !(await hasCommand("runuser"))) {
    throw new Error(
      "Running as root, the bench starts PostgreSQL with `runuser -u postgres`, which was not found",
    );
  }
  // initdb refuses to run as root: run the server as the `postgres` user, in a directory it owns.
  const asPostgres = async (tool: string, args: string[]) =>
    root
      ? runOrThrow("runuser", ["-u", "postgres", "--", path.join(bin, tool), ...args])
      : runOrThrow(path.join(bin, tool), args);
  const dir = await mkdtemp(path.join(root ? "/tmp" : os.tmpdir(), "agora-bench-pg-"));
  if (root) {
    const uid = Number((await runOrThrow("id", ["-u", "postgres"])).stdout.trim());
    const gid = Number((await runOrThrow("id", ["-g", "postgres"])).stdout.trim());
    await chown(dir, uid, gid);
  }
  const port = await freePort();
  log(`  PostgreSQL: initdb + start on 127.0.0.1:${port} (${bin}, fsync=off)`);
  await asPostgres("initdb", ["-D", dir, "-A", "trust", "-U", "postgres", "--no-sync"]);
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses=127.0.0.1",
    "-c fsync=off",
    "-c synchronous_commit=off",
    "-c full_page_writes=off",
    // Up to eight Agora processes (with the baseline's), three database peers and the x2
    // workers each hold a pool of 10.
    "-c max_connections=200",
  ].join(" ");
  await asPostgres("pg_ctl", ["-D", dir, "-o", options, "-l", path.join(dir, "server.log"), "-w", "start"]);
  const adminUrl = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const stop = async () => {
    await run(root ? "runuser" : path.join(bin, "pg_ctl"), [
      ...(root ? ["-u", "postgres", "--", path.join(bin, "pg_ctl")] : []),
      "-D",
      dir,
      "-m",
      "immediate",
      "-w",
      "stop",
    ]);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const url = await createBenchDatabase(adminUrl, "agora_bench");
    return { url, version: await serverVersion(url), source: "throwaway", close: stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Applies the project's migrations exactly as the server does: `prisma migrate deploy`. */
export async function migrate(url: string, repoRoot: string): Promise<void> {
  await runOrThrow(
    path.join(repoRoot, "node_modules", ".bin", "prisma"),
    ["migrate", "deploy", "--config", "prisma.config.ts"],
    {
      cwd: repoRoot,
      env: { ...process.env, DATABASE_URL: url, PRISMA_HIDE_UPDATE_MESSAGE: "1" },
    },
  );
}

/**
 * Watches Agora's job queue (pg-boss, schema "pgboss") over one connection. `drained()` waits
 * until no job is due: orders.create leaves a confirmation job per order, and the servers
 * working them off would otherwise load the machine during whatever is measured next. It gives
 * up after `timeoutMs` and says so.
 */
export async function openJobQueueWatch(
  url: string,
): Promise<{ drained: (timeoutMs?: number) => Promise<void>; close: () => Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const drained = async (timeoutMs = 60_000) => {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const { rows } = await client.query<{ due: number }>(
        `SELECT count(*)::int AS due FROM pgboss.job
          WHERE state IN ('created', 'retry', 'active') AND start_after <= now()`,
      );
      const due = rows[0]?.due ?? 0;
      if (due === 0) return;
      if (performance.now() > deadline) {
        log(`\n  warning: ${due} jobs still queued after ${timeoutMs / 1000} s; measuring anyway`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };
  return { drained, close: () => client.end() };
}
