import path from "node:path";
import { freePort, hasCommand, log, Managed, sleep } from "./procs.js";
import { connect } from "node:net";

export interface BenchRedis {
  readonly url: string;
  readonly source: "throwaway" | "REDIS_URL";
  close(): Promise<void>;
}

async function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.setTimeout(500);
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => {
      socket.destroy();
      resolve(data.toString().startsWith("+PONG"));
    });
    socket.once("error", () => {
      resolve(false);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/**
 * REDIS_URL when set; otherwise a throwaway `redis-server` (no persistence) on a free port;
 * null when neither exists (the rows that need Redis are then skipped).
 */
export async function openBenchRedis(workDir: string): Promise<BenchRedis | null> {
  const given = process.env.REDIS_URL?.trim();
  if (given) return { url: given, source: "REDIS_URL", close: () => Promise.resolve() };
  if (!(await hasCommand("redis-server"))) return null;
  const port = await freePort();
  log(`  Redis: redis-server on 127.0.0.1:${port} (no persistence)`);
  const proc = Managed.start(
    "redis-server",
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { env: process.env, logFile: path.join(workDir, "redis.log"), cwd: workDir },
  );
  for (let i = 0; i < 100; i += 1) {
    if (await ping(port))
      return { url: `redis://127.0.0.1:${port}`, source: "throwaway", close: () => proc.stop() };
    if (!proc.running) break;
    await sleep(50);
  }
  await proc.stop();
  throw new Error(`redis-server did not start. Its output:\n${proc.tail()}`);
}
