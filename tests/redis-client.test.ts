import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectRedis, createLogger, pingRedis, type Logger } from "@agora/server/testing";
import { servicesUnavailable, startOwnedRedis, type OwnedRedis } from "./support/services.js";

// The Redis client's timeouts against a Redis of its own, paused (SIGSTOP) for real: a pause
// longer than one command timeout is not an outage, a freeze is.
const why = servicesUnavailable();
if (why && process.env.CI) throw new Error(why);

const COMMAND_TIMEOUT_MS = 250;
const CHECK_EVERY_MS = 100;

let redis: OwnedRedis;
beforeAll(async () => {
  if (why) return;
  redis = await startOwnedRedis();
}, 30_000);
afterAll(async () => {
  if (why) return;
  await redis.destroy();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A logger at warn level whose lines are kept. */
function recordingLogger(): { log: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const log = createLogger("warn", {
    write(line: string) {
      warnings.push(line);
    },
  });
  return { log, warnings };
}

/** Pauses Redis for `ms`, then lets it go on. */
async function pauseRedis(ms: number): Promise<void> {
  redis.freeze();
  try {
    await sleep(ms);
  } finally {
    redis.resume();
  }
}

describe.skipIf(why !== null)("Redis client", () => {
  it("counts Redis up through a pause longer than one command timeout, and keeps its connection", async () => {
    const { log, warnings } = recordingLogger();
    const client = await connectRedis(redis.url, log, COMMAND_TIMEOUT_MS, CHECK_EVERY_MS);
    const dropped: string[] = [];
    client.on("close", () => dropped.push("close"));
    try {
      // 350 ms: every PING sent during it misses its first timeout, and is answered the second time.
      const [up] = await Promise.all([pingRedis(client), pauseRedis(COMMAND_TIMEOUT_MS + 100)]);
      expect(up).toBe(true);
      await sleep(3 * CHECK_EVERY_MS);
      expect(dropped).toEqual([]);
      expect(warnings).toEqual([]);
      expect(client.status).toBe("ready");
    } finally {
      client.disconnect();
    }
  });

  it("counts a frozen Redis down, drops the connection, and answers again once it is back", async () => {
    const { log, warnings } = recordingLogger();
    const client = await connectRedis(redis.url, log, COMMAND_TIMEOUT_MS, CHECK_EVERY_MS);
    try {
      redis.freeze();
      try {
        const started = Date.now();
        expect(await pingRedis(client)).toBe(false);
        expect(Date.now() - started).toBeLessThan(4 * COMMAND_TIMEOUT_MS);
        await expect.poll(() => client.status, { timeout: 3_000 }).not.toBe("ready");
        expect(warnings.join("\n")).toContain("redis stopped answering: reconnecting");
      } finally {
        redis.resume();
      }
      await expect.poll(() => pingRedis(client), { timeout: 10_000 }).toBe(true);
    } finally {
      client.disconnect();
    }
  });
});
