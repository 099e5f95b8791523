import { createHash } from "node:crypto";
import { access, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import pg from "pg";
import { repoRoot } from "../../../shared/paths.js";
import { PGLITE_EXTRA_START_PARAMS } from "./params.js";
import type { Logger } from "../../logger.js";
import { applyMigrations, readMigrations } from "../migrate.js";

/**
 * A migrated, empty PGlite data directory (Prisma migrations and the job queue's schema and
 * queues), so that a new embedded database starts from it instead of running initdb and every
 * migration (about 4 s of Wasm initdb on these machines). It is kept twice: as a folder, which
 * a new DATA_DIR is copied from (a file copy, then PGlite opens it as on any restart), and as
 * a tarball for in-memory databases (DATA_DIR=:memory:), which PGlite can only load that way
 * (unpacking it inside PGlite took 2-3 s of a first start, the folder copy 0.5 s). `pnpm
 * install` builds it (`db:prepare-embedded`); if it is missing or was built for other
 * migrations or another PGlite, the server initialises from scratch and the migrations run as
 * usual: the template is only ever a shortcut.
 */
const cacheDir = path.join(repoRoot, "node_modules", ".cache", "agora");
/**
 * Bumped whenever what the template holds changes (the job schema since format 2; the job
 * queues and the folder form since 3; without pg-boss's send-it queue, which its scheduler
 * creates once the server listens, since 4; with the job timeout as the queues' expiry since 5).
 */
const TEMPLATE_FORMAT = "5";

function pgliteVersion(): string {
  const require = createRequire(import.meta.url);
  let dir = path.dirname(require.resolve("@electric-sql/pglite"));
  for (let i = 0; i < 5; i += 1) {
    try {
      const pkg = require(path.join(dir, "package.json")) as { name?: string; version?: string };
      if (pkg.name === "@electric-sql/pglite" && pkg.version) return pkg.version;
    } catch {
      // not the package root yet
    }
    dir = path.dirname(dir);
  }
  return "unknown";
}

/** Where the template for these migrations and this PGlite lives, without an extension. */
async function templateBase(): Promise<string> {
  const migrations = await readMigrations();
  const key = createHash("sha256")
    .update(`${TEMPLATE_FORMAT}:${pgliteVersion()}:`)
    .update(migrations.map((m) => `${m.name}:${m.checksum}`).join("\n"))
    .digest("hex")
    .slice(0, 16);
  return path.join(cacheDir, `pglite-template-${key}`);
}

/** The tarball form of the template (see above). */
export async function templateFile(): Promise<string> {
  return `${await templateBase()}.tar.gz`;
}

/**
 * The template's folder form, to fill a new data directory from, or null when there is none
 * (PG_VERSION, which marks a directory as initialised, is written last). The database's
 * thread copies it (pglite-worker.mjs).
 */
export async function templateFolder(): Promise<string | null> {
  const folder = await templateBase();
  try {
    await access(path.join(folder, "PG_VERSION"));
    return folder;
  } catch {
    return null;
  }
}

/** The tarball's bytes (for an in-memory database), or null when there is none. */
export async function readTemplate(): Promise<ArrayBuffer | null> {
  try {
    const bytes = await readFile(await templateFile());
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  } catch {
    return null;
  }
}

/**
 * Builds the template (a PGlite database in a folder, migrated, with the job queue's schema and
 * the given queues) in both forms; returns the tarball's path.
 */
export async function buildTemplate(
  log: Logger,
  jobQueues: {
    queues: readonly string[];
    retryLimit: number;
    retryDelaySeconds: number;
    timeoutSeconds: number;
  },
): Promise<string> {
  const dir = await templateBase();
  const file = `${dir}.tar.gz`;
  await mkdir(cacheDir, { recursive: true });
  // Built aside then renamed: a reader never sees half a template.
  const partialDir = `${dir}.${String(process.pid)}.tmp`;
  await rm(partialDir, { recursive: true, force: true });
  // Loaded here: the server imports this module for the copy above, and opens PGlite elsewhere.
  const [{ PGlite }, { PGLiteSocketServer }, { JobQueue }] = await Promise.all([
    import("@electric-sql/pglite"),
    import("@electric-sql/pglite-socket"),
    import("../../jobs.js"),
  ]);
  const db = await PGlite.create({
    dataDir: partialDir,
    startParams: [...PGlite.defaultStartParams, ...PGLITE_EXTRA_START_PARAMS],
  });
  let dump: Blob;
  try {
    const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 4 });
    await server.start();
    try {
      const url = `postgresql://postgres:postgres@${server.getServerConn()}/postgres?sslmode=disable`;
      await applyMigrations(url, log);
      // The job queue's schema and queues too (made on the first start otherwise), pg-boss's
      // own cron queue included (hence `workers`: its scheduler starts, and stops with it). The
      // server brings the queues' retry settings to its configuration when they differ.
      const pool = new pg.Pool({ connectionString: url, max: 1 });
      try {
        const jobs = new JobQueue(pool, {
          workers: true,
          pollIntervalSeconds: 2,
          retryLimit: jobQueues.retryLimit,
          retryDelaySeconds: jobQueues.retryDelaySeconds,
          timeoutSeconds: jobQueues.timeoutSeconds,
          log,
        });
        await jobs.createQueues(jobQueues.queues);
        await jobs.stop(1000);
      } finally {
        await pool.end();
      }
    } finally {
      await server.stop();
    }
    dump = await db.dumpDataDir("gzip");
  } finally {
    await db.close();
  }
  await rm(dir, { recursive: true, force: true });
  await rename(partialDir, dir);
  const partial = `${file}.${String(process.pid)}.tmp`;
  await writeFile(partial, Buffer.from(await dump.arrayBuffer()));
  await rename(partial, file);
  // Templates of earlier migrations or PGlite versions are never read again (45 MB each).
  const current = new Set([path.basename(dir), path.basename(file)]);
  for (const entry of await readdir(cacheDir)) {
    if (entry.startsWith("pglite-template-") && !current.has(entry) && !entry.endsWith(".tmp")) {
      await rm(path.join(cacheDir, entry), { recursive: true, force: true });
    }
  }
  return file;
}
