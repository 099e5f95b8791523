import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, chown, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort } from "./process.js";

// A PostgreSQL server and a Redis server owned by one test, which it may stop, freeze
// (SIGSTOP), resume and restart: the dependency faults a production server meets.

const run = promisify(execFile);

function postgresBin(): string | null {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = path.join(root, v, "bin");
    if (existsSync(path.join(bin, "initdb"))) return bin;
  }
  return null;
}

const PG_BIN = postgresBin();
const REDIS_BIN = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].find((p) => existsSync(p)) ?? null;
const IS_ROOT = process.getuid?.() === 0;

/** Why these tests cannot run here, or null when they can. */
export function servicesUnavailable(): string | null {
  if (!PG_BIN) return "no PostgreSQL binaries in /usr/lib/postgresql/*/bin";
  if (!REDIS_BIN) return "no redis-server";
  return null;
}

/** Runs a PostgreSQL binary, as the postgres user when we are root (PostgreSQL refuses root). */
function pgCommand(bin: string, args: string[]): [string, string[]] {
  const file = path.join(PG_BIN ?? "", bin);
  return IS_ROOT ? ["runuser", ["-u", "postgres", "--", file, ...args]] : [file, args];
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** The parent pid of a process, from /proc (null when it is gone). */
function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, "utf8");
    // The command name may hold spaces and parentheses: fields are counted after the last ")".
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return null;
  }
}

/** The pids of a process and all its descendants. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const parent = parentOf(Number(entry));
    if (parent !== null) children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
  }
  const out: number[] = [];
  const stack = [root];
  for (let pid = stack.pop(); pid !== undefined; pid = stack.pop()) {
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** A PostgreSQL or Redis server a test starts, stops, freezes and removes itself. */
export interface OwnedService {
  readonly url: string;
  /** Stops it: connections are closed, the port refuses. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP to its processes: the port accepts, nothing answers. */
  freeze(): void;
  resume(): void;
  destroy(): Promise<void>;
}

export type OwnedPostgres = OwnedService;
export type OwnedRedis = OwnedService;

export async function startOwnedPostgres(): Promise<OwnedPostgres> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "agora-pg-"));
  await chmod(dir, 0o755);
  const data = path.join(dir, "data");
  const port = await freePort();
  if (IS_ROOT) await chown(dir, ...(await postgresIds()));
  const [initFile, initArgs] = pgCommand("initdb", ["-D", data, "-A", "trust", "-U", "postgres"]);
  await run(initFile, initArgs);
  const options = `-p ${String(port)} -k /tmp -c fsync=off -c listen_addresses=127.0.0.1`;
  const pgCtl = async (...args: string[]) => {
    const [file, argv] = pgCommand("pg_ctl", ["-D", data, ...args]);
    await run(file, argv);
  };
  const postmasterPid = async (): Promise<number> => {
    const text = await readFile(path.join(data, "postmaster.pid"), "utf8");
    return Number(text.split("\n")[0]);
  };
  let frozen: number[] = [];
  const owned: OwnedPostgres = {
    url: `postgresql://postgres@127.0.0.1:${String(port)}/postgres`,
    async start() {
      await pgCtl("-o", options, "-l", path.join(dir, "log"), "-w", "start");
    },
    async stop() {
      await pgCtl("-m", "fast", "-w", "stop");
    },
    freeze() {
      const pid = Number(readFileSync(path.join(data, "postmaster.pid"), "utf8").split("\n")[0]);
      frozen = processTree(pid);
      for (const p of frozen) process.kill(p, "SIGSTOP");
    },
    resume() {
      for (const p of frozen) {
        try {
          process.kill(p, "SIGCONT");
        } catch {
          // exited meanwhile
        }
      }
      frozen = [];
    },
    async destroy() {
      owned.resume();
      try {
        await postmasterPid();
        await pgCtl("-m", "immediate", "-w", "stop");
      } catch {
        // not running
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  await owned.start();
  return owned;
}

async function postgresIds(): Promise<[number, number]> {
  const { stdout } = await run("id", ["postgres"]);
  const uid = /uid=(\d+)/.exec(stdout)?.[1];
  const gid = /gid=(\d+)/.exec(stdout)?.[1];
  return [Number(uid), Number(gid)];
}

/**
 * A Redis server of the test's own. `persistent`: every write is in its append-only file
 * (fsync always) in a folder of its own, so a restart, even after SIGKILL, comes back with
 * all its data, as a production Redis with persistence would.
 */
export async function startOwnedRedis(options: { persistent?: boolean } = {}): Promise<OwnedRedis> {
  const port = await freePort();
  const dir = options.persistent ? await mkdtemp(path.join(os.tmpdir(), "agora-redis-")) : null;
  const persistence = dir
    ? ["--dir", dir, "--appendonly", "yes", "--appendfsync", "always"]
    : ["--appendonly", "no"];
  let child: ChildProcess | null = null;
  const owned: OwnedRedis = {
    url: `redis://127.0.0.1:${String(port)}`,
    async start() {
      const proc = spawn(
        REDIS_BIN ?? "redis-server",
        ["--port", String(port), "--save", "", ...persistence],
        {
          stdio: "ignore",
        },
      );
      child = proc;
      // Ready once it accepts a PING.
      for (let i = 0; i < 100; i += 1) {
        try {
          await run("redis-cli", ["-p", String(port), "ping"]);
          return;
        } catch {
          await sleep(50);
        }
      }
      throw new Error("redis-server did not start");
    },
    async stop() {
      const proc = child;
      if (!proc || proc.exitCode !== null) return;
      const exited = new Promise((resolve) => proc.once("exit", resolve));
      proc.kill("SIGKILL");
      await exited;
    },
    freeze() {
      child?.kill("SIGSTOP");
    },
    resume() {
      child?.kill("SIGCONT");
    },
    async destroy() {
      owned.resume();
      await owned.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
  await owned.start();
  return owned;
}
