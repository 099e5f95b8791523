import { randomUUID } from "node:crypto";
import { mkdir, open, readFile, rmdir, stat, unlink, utimes } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { StartupError } from "../../startup-error.js";

/**
 * One process at a time on an embedded data directory (two PGlite instances on one folder
 * would corrupt it), with a lock that cannot outlive its holder.
 *
 * The lock is a file created exclusively (O_EXCL) inside the folder, naming its holder: pid,
 * host, the process's start time and a random token. A starter that finds it asks whether
 * the holder still lives:
 * - same host: the pid is checked at once (`kill(pid, 0)`), and on Linux its start time too,
 *   so a pid reused by another process does not count; a lock left by a SIGKILL, an OOM kill
 *   or a power cut is taken over immediately;
 * - another host (a shared volume): the pid means nothing here, so the holder refreshes the
 *   file's mtime every few seconds and the lock counts as abandoned once it stops for
 *   {@link REMOTE_STALE_MS}.
 * Taking over is done under a short mkdir mutex, so two starters finding the same dead holder
 * cannot both win.
 */

const LOCK_FILE = ".agora-lock";
const HEARTBEAT_MS = 5_000;
const REMOTE_STALE_MS = 20_000;
/** A takeover mutex older than this belongs to a starter that died inside its few milliseconds. */
const MUTEX_STALE_MS = 2_000;
/** A lock file still empty after this was left by a starter that died between create and write. */
const UNWRITTEN_STALE_MS = 2_000;

export interface LockHolder {
  pid: number;
  host: string;
  /** Process start time in clock ticks since boot (Linux), to tell a reused pid apart. */
  started: string | null;
  token: string;
}

export class DataDirLockedError extends StartupError {
  override readonly name = "DataDirLockedError";
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder,
  ) {
    const where = holder.host === os.hostname() ? "" : ` on host ${holder.host}`;
    super(
      `The embedded database in ${dataDir} is in use by another Agora process (pid ${String(holder.pid)}${where}): ` +
        "stop that one first, or set DATA_DIR to another folder",
    );
  }
}

export interface DataDirLock {
  release(): Promise<void>;
}

/** Tokens of the locks this process holds (a second server in one process, as tests start). */
const heldHere = new Set<string>();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function errorCode(error: unknown): string | undefined {
  return error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined;
}

/** Field 22 of /proc/<pid>/stat; null where there is no /proc. */
async function processStartTime(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${String(pid)}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: count from the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

async function isAlive(holder: LockHolder, lockPath: string): Promise<boolean> {
  if (holder.host !== os.hostname()) {
    try {
      return Date.now() - (await stat(lockPath)).mtimeMs < REMOTE_STALE_MS;
    } catch {
      return false;
    }
  }
  // Our own pid with a token we do not hold is a previous life of this pid (a restarted container).
  if (holder.pid === process.pid) return heldHere.has(holder.token);
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to another user. ESRCH: no such process.
    if (errorCode(error) !== "EPERM") return false;
  }
  if (holder.started === null) return true;
  const started = await processStartTime(holder.pid);
  return started === null || started === holder.started;
}

async function readHolder(lockPath: string): Promise<LockHolder | "unwritten" | "gone"> {
  let text: string;
  try {
    text = await readFile(lockPath, "utf8");
  } catch (error) {
    if (errorCode(error) === "ENOENT") return "gone";
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockHolder>;
    if (
      typeof parsed.pid === "number" &&
      typeof parsed.host === "string" &&
      typeof parsed.token === "string"
    ) {
      return { pid: parsed.pid, host: parsed.host, started: parsed.started ?? null, token: parsed.token };
    }
  } catch {
    // being written right now, or left half-written
  }
  return "unwritten";
}

async function ageMs(file: string): Promise<number> {
  try {
    return Date.now() - (await stat(file)).mtimeMs;
  } catch {
    return 0;
  }
}

/** Removes the lock file only if it still names `token` (or is still unwritten), under the mutex. */
async function removeAbandoned(lockPath: string, token: string | null): Promise<void> {
  const mutex = `${lockPath}.takeover`;
  try {
    await mkdir(mutex);
  } catch (error) {
    if (errorCode(error) !== "EEXIST") throw error;
    if ((await ageMs(mutex)) > MUTEX_STALE_MS) await rmdir(mutex).catch(() => undefined);
    return; // someone else is taking over; the caller looks again
  }
  try {
    const now = await readHolder(lockPath);
    const same = token === null ? now === "unwritten" : typeof now === "object" && now.token === token;
    if (same) await unlink(lockPath).catch(() => undefined);
  } finally {
    await rmdir(mutex).catch(() => undefined);
  }
}

/** Takes the lock on `dataDir` (which must exist), or throws {@link DataDirLockedError}. */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const lockPath = path.join(dataDir, LOCK_FILE);
  const me: LockHolder = {
    pid: process.pid,
    host: os.hostname(),
    started: await processStartTime(process.pid),
    token: randomUUID(),
  };
  for (let attempt = 0; attempt < 200; attempt += 1) {
    try {
      const file = await open(lockPath, "wx");
      try {
        await file.writeFile(JSON.stringify(me));
        await file.sync();
      } finally {
        await file.close();
      }
      return holdLock(lockPath, me.token);
    } catch (error) {
      if (errorCode(error) !== "EEXIST") throw error;
    }
    const holder = await readHolder(lockPath);
    if (holder === "gone") continue;
    if (holder === "unwritten") {
      if ((await ageMs(lockPath)) > UNWRITTEN_STALE_MS) await removeAbandoned(lockPath, null);
      else await sleep(25);
      continue;
    }
    if (await isAlive(holder, lockPath)) throw new DataDirLockedError(dataDir, holder);
    await removeAbandoned(lockPath, holder.token);
    await sleep(5);
  }
  throw new Error(`Could not lock the embedded database in ${dataDir}: other processes kept taking it`);
}

/** Who holds the lock on `dataDir`, if a live process does. */
export async function dataDirHolder(dataDir: string): Promise<LockHolder | null> {
  const lockPath = path.join(dataDir, LOCK_FILE);
  const holder = await readHolder(lockPath);
  if (holder === "gone" || holder === "unwritten") return null;
  return (await isAlive(holder, lockPath)) ? holder : null;
}

function holdLock(lockPath: string, token: string): DataDirLock {
  heldHere.add(token);
  // The heartbeat only matters to processes on other hosts sharing the folder.
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(lockPath, now, now).catch(() => undefined);
  }, HEARTBEAT_MS);
  heartbeat.unref();
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      heldHere.delete(token);
      const holder = await readHolder(lockPath);
      if (typeof holder === "object" && holder.token === token) await unlink(lockPath).catch(() => undefined);
    },
  };
}
