import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";

export const repoRoot = path.resolve(import.meta.dirname, "../..");

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => {
        resolve(typeof address === "object" && address ? address.port : 0);
      });
    });
  });
}

export interface ServerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything the process printed, for failure messages. */
  output(): string;
  /** SIGTERM and wait: a graceful shutdown. Resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: the process dies on the spot, as in a crash. */
  kill(): Promise<void>;
}

/** The server process exited before it had started (before /readyz answered). */
export class ServerExitedError extends Error {
  constructor(
    readonly code: number | null,
    /** Everything it printed, stdout and stderr interleaved. */
    readonly output: string,
    readonly stderr: string,
  ) {
    super(`server exited with ${String(code)}:\n${output}`);
  }
}

/**
 * Starts `server/src/main.ts` as its own process (what `pnpm start` runs) with exactly the
 * given environment, and waits until it has started (/readyz answers). If it exits first, throws a
 * {@link ServerExitedError}.
 */
export async function startServerProcess(
  env: Record<string, string>,
  options: { entry?: string[]; timeoutMs?: number; uid?: number; gid?: number } = {},
): Promise<ServerProcess> {
  const port = await freePort();
  const args = options.entry ?? ["--import", "tsx", "server/src/main.ts"];
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", PORT: String(port), ...env },
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
  });
  const chunks: string[] = [];
  const stderr: string[] = [];
  child.stdout.on("data", (c: Buffer) => chunks.push(c.toString()));
  child.stderr.on("data", (c: Buffer) => {
    chunks.push(c.toString());
    stderr.push(c.toString());
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      resolve(code);
    });
  });
  // After "close", every byte it printed has been read.
  const closed = new Promise<void>((resolve) => {
    child.once("close", () => {
      resolve();
    });
  });
  const url = `http://127.0.0.1:${String(port)}`;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) {
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 2_000))]);
      throw new ServerExitedError(child.exitCode, chunks.join(""), stderr.join(""));
    }
    try {
      // Liveness answers while the server still starts (main.ts listens before the database is
      // open); /readyz answers once start-up has finished, `{ status }` up or not. A start-up
      // that fails answers it with an error body instead, and then exits.
      const readiness: unknown = await (await fetch(`${url}/readyz`)).json();
      if (typeof readiness === "object" && readiness !== null && "status" in readiness) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`server did not finish starting (/readyz) in time:\n${chunks.join("")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    child,
    output: () => chunks.join(""),
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      return exited;
    },
    async kill() {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}
