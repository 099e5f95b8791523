import { mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { freePort, Managed, repoRoot, waitForOk } from "./procs.js";
import type { EmbeddedStart } from "./report.js";

/** One server start to time: what to spawn, on which DATA_DIR, its log named `name`. */
export interface TimedStart {
  name: string;
  command: string;
  args: string[];
  dataDir: string;
}

/**
 * Spawns a server (env, plus DATA_DIR and a free PORT) and times it from spawning to the first
 * request it serves from its database: `/readyz` answering 200 (it pings the database). Not
 * `health.live`: the server listens before its database is open (docs/behaviour.md, "While
 * starting"), so liveness answers about a second before anything else can be served, and
 * timing it would flatter the start. Stops the server (its whole process group) before returning.
 */
export async function timeStart(workDir: string, env: NodeJS.ProcessEnv, start: TimedStart): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const proc = Managed.start(start.name, start.command, start.args, {
    env: { ...env, DATA_DIR: start.dataDir, PORT: String(port) },
    logFile: path.join(workDir, `${start.name}.log`),
    cwd: repoRoot,
  });
  try {
    await waitForOk(`http://127.0.0.1:${port}/readyz`, proc, 120_000);
    return performance.now() - started;
  } finally {
    await proc.stop(15_000);
  }
}

/**
 * The zero-setup default (no DATABASE_URL: PGlite in DATA_DIR, migrations at start), as a
 * newcomer gets it (development defaults, so demo seeding included), timed from spawning
 * `node server/dist/main.js` to the first request served from the database (`timeStart`), once on an empty DATA_DIR
 * and once more on the same directory (a restart). Also, for information, the first start
 * of what `pnpm start` runs: the TypeScript sources through tsx. With BENCH_BASELINE,
 * main.ts also alternates the baseline build and this one, round after round (the A/B).
 */
export async function measureEmbeddedStart(
  workDir: string,
  baseEnv: NodeJS.ProcessEnv,
  /** The build to start, and whether to time the sources' first start too. */
  build: { entry: string; fromSources: boolean } = { entry: "server/dist/main.js", fromSources: true },
): Promise<EmbeddedStart> {
  const dataDir = await mkdtemp(path.join(workDir, "embedded-data-"));
  const env: NodeJS.ProcessEnv = { ...baseEnv, NODE_ENV: "development", DATA_DIR: dataDir };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  const once = (name: string, args = [build.entry], dir = dataDir): Promise<number> =>
    timeStart(workDir, env, { name, command: process.execPath, args, dataDir: dir });
  try {
    const firstStartMs = await once("embedded-first-start");
    const restartMs = await once("embedded-restart");
    if (!build.fromSources) return { firstStartMs, restartMs };
    const sourcesDir = await mkdtemp(path.join(workDir, "embedded-tsx-"));
    const tsxFirstStartMs = await once(
      "embedded-tsx-first-start",
      ["--import", "tsx", "server/src/main.ts"],
      sourcesDir,
    );
    await rm(sourcesDir, { recursive: true, force: true });
    return { firstStartMs, restartMs, tsxFirstStartMs };
  } catch (error) {
    return {
      firstStartMs: null,
      restartMs: null,
      error: error instanceof Error ? error.message : String(error),
    };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
