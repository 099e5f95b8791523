import { spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (bench/src/ is two levels below it). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const benchRoot = path.join(repoRoot, "bench");

export function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => {
        if (typeof address === "object" && address) resolve(address.port);
        else reject(new Error("could not get a free port"));
      });
    });
  });
}

/** The variables a server process inherits: a clean set, so your shell's settings cannot leak in. */
export function baseEnv(): NodeJS.ProcessEnv {
  const keep = ["PATH", "HOME", "LANG", "TMPDIR", "TZ"];
  const env: NodeJS.ProcessEnv = {};
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  return { ...env, NODE_ENV: "production", HOST: "127.0.0.1", SHUTDOWN_DELAY_MS: "0" };
}

/** A numeric setting from the environment: `fallback` when unset, an error naming it when invalid. */
export function numberEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min)
    throw new Error(`${name} must be a number >= ${min} (got "${raw}")`);
  return value;
}

export const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion and collects its output (for short tools: initdb, prisma, wrk). */
export async function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? repoRoot,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.once("error", reject);
    child.once("close", (code) => {
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

export async function runOrThrow(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} failed (exit ${String(result.code)}):\n${result.stdout}${result.stderr}`,
    );
  }
  return result;
}

/** Whether an executable is on PATH (or is an existing absolute path). */
export async function hasCommand(name: string): Promise<boolean> {
  const result = await run("sh", ["-c", `command -v ${name}`]).catch(() => null);
  return result?.code === 0;
}

/**
 * A long-running process in its own process group, so stopping it also stops anything it
 * forked (cluster workers, bcrypt threads are in-process anyway). Output goes to a log file
 * the error messages point at.
 */
export class Managed {
  private exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        resolve(code);
      });
    });
  }

  /** The process id, which is also its process group's (it is started detached). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  static start(
    name: string,
    command: string,
    args: readonly string[],
    options: { env: NodeJS.ProcessEnv; logFile: string; cwd?: string },
  ): Managed {
    const fd = openSync(options.logFile, "a");
    try {
      const child = spawn(command, args, {
        cwd: options.cwd ?? repoRoot,
        env: options.env,
        stdio: ["ignore", fd, fd],
        detached: true,
      });
      return new Managed(name, child, options.logFile);
    } finally {
      closeSync(fd);
    }
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** The last lines of the process's output, for error messages. */
  tail(lines = 20): string {
    try {
      return readFileSync(this.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no output)";
    }
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined || !this.running) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  }

  /**
   * SIGTERM to the group, then SIGKILL if it has not exited within `graceMs`. Waits for the
   * whole group, not only its leader: `pnpm start` exits at once on SIGTERM while the server it
   * started may still be finishing its start-up, holding its DATA_DIR.
   */
  async stop(graceMs = 5_000): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined) return;
    if (this.running) this.signalGroup("SIGTERM");
    const deadline = Date.now() + graceMs;
    let killed = false;
    // A zombie (an orphan its new parent never reaps) still answers signal 0: give up 2 s after SIGKILL.
    while (groupAlive(pid) && Date.now() < deadline + 2_000) {
      if (!killed && Date.now() > deadline) {
        killGroup(pid, "SIGKILL");
        killed = true;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await this.exited;
  }

  async waitExit(): Promise<number | null> {
    return this.exited;
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** Whether any process of the group led by `pid` is still alive (signal 0 only checks). */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls a URL until it answers 200, failing early if the process dies. */
export async function waitForOk(url: string, proc: Managed | null, timeoutMs: number): Promise<number> {
  const started = performance.now();
  const deadline = started + timeoutMs;
  while (performance.now() < deadline) {
    if (proc && !proc.running) {
      throw new Error(`${proc.name} exited before it answered ${url}. Its output:\n${proc.tail()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.ok) return performance.now() - started;
    } catch {
      // not listening yet
    }
    await sleep(20);
  }
  throw new Error(
    `${proc?.name ?? url} did not answer ${url} within ${timeoutMs} ms${proc ? `. Its output:\n${proc.tail()}` : ""}`,
  );
}

export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  const hi = sorted[mid] ?? Number.NaN;
  const lo = sorted[mid - 1] ?? hi;
  return sorted.length % 2 === 1 ? hi : (lo + hi) / 2;
}

/** What to undo at the end (servers, databases), undone in reverse order; a failing step is logged, not thrown. */
export class Cleanups {
  private readonly steps: (() => Promise<void>)[] = [];

  add(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        log(`  (cleanup: ${error instanceof Error ? error.message : String(error)})`);
      }
    }
  }
}
