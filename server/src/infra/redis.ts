import type { Redis } from "ioredis";
import type { Logger } from "./logger.js";
import { messageOf, StartupError } from "./startup-error.js";

export type { Redis };

/**
 * A Redis client that never holds a call hostage: while Redis is unreachable, commands fail
 * at once (no offline queue) instead of waiting for a reconnection, and a command Redis does
 * not answer in `commandTimeoutMs` (a frozen or overloaded server) fails too. Reconnection
 * goes on in the background; what each user of Redis does on failure is its own choice
 * (cache and events degrade, rate limiting follows RATE_LIMIT_ON_REDIS_FAILURE).
 */
/** How often each instance checks that Redis answers (see `watchForFreeze`). */
const FREEZE_CHECK_EVERY_MS = 250;

/**
 * Within this long of Redis stopping to answer, every instance's connection has been dropped
 * (a check, then two PINGs that time out), provided its event loop runs.
 */
export function outageNoticedWithinMs(commandTimeoutMs: number): number {
  return FREEZE_CHECK_EVERY_MS + 2 * commandTimeoutMs;
}

export async function connectRedis(
  url: string,
  log: Logger,
  commandTimeoutMs: number,
  freezeCheckEveryMs = FREEZE_CHECK_EVERY_MS,
): Promise<Redis> {
  // Loaded only when REDIS_URL is set: the embedded default never needs it (0.1 s of start-up).
  const { Redis: RedisClient } = await import("ioredis");
  const client = new RedisClient(url, {
    lazyConnect: true,
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  const last: { error: Error | null; warnedAt: number } = { error: null, warnedAt: 0 };
  client.on("error", (err: Error) => {
    last.error = err;
    // Every reconnection attempt fails the same way during an outage: say it every 10 s.
    const now = Date.now();
    if (now - last.warnedAt < 10_000) return;
    last.warnedAt = now;
    log.warn({ err: { message: err.message } }, "redis error");
  });
  try {
    await client.connect();
  } catch (error) {
    // connect() rejects with "Connection is closed."; the cause is in the last error event.
    client.disconnect();
    const { hostname, port } = new URL(url);
    throw new StartupError(
      `cannot connect to Redis at ${hostname}:${port || "6379"} (REDIS_URL): ${messageOf(last.error ?? error)}`,
    );
  }
  watchForFreeze(client, log, commandTimeoutMs, freezeCheckEveryMs);
  return client;
}

/**
 * A Redis that stops answering but keeps its connection open (frozen, swapped out, a network
 * black hole) stays "ready" to ioredis, so every command would wait out its timeout, several
 * per call. A PING every quarter second finds it instead: the connection is dropped, and while
 * ioredis reconnects, commands fail at once (no offline queue), until Redis answers again.
 * Dropping it takes two PINGs in a row without an answer (see `pingOnceMore`).
 */
function watchForFreeze(client: Redis, log: Logger, commandTimeoutMs: number, everyMs: number): void {
  let pinging = false;
  const timer = setInterval(() => {
    if (pinging || client.status !== "ready") return;
    pinging = true;
    pingOnceMore(client)
      .catch((err: unknown) => {
        if (isTimeout(err) && client.status === "ready") {
          log.warn({ timeoutMs: commandTimeoutMs }, "redis stopped answering: reconnecting");
          client.disconnect(true);
        }
      })
      .finally(() => {
        pinging = false;
      });
  }, everyMs);
  timer.unref();
  client.once("end", () => {
    clearInterval(timer);
  });
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && /Command timed out/.test(error.message);
}

/**
 * A PING, sent again once if the first timed out on a connection still open. One late answer
 * is a pause, not an outage: this process stalled past the command timeout (a long garbage
 * collection, a starved CPU; the timer then fires before the waiting reply is read), or Redis
 * did (a slow command, a fork). A frozen Redis misses both.
 */
async function pingOnceMore(client: Redis): Promise<void> {
  try {
    await client.ping();
  } catch (error) {
    if (!isTimeout(error) || client.status !== "ready") throw error;
    await client.ping();
  }
}

/** Whether Redis answers, for readiness: two command timeouts at most (see `pingOnceMore`). */
export async function pingRedis(client: Redis): Promise<boolean> {
  try {
    await pingOnceMore(client);
    return true;
  } catch {
    return false;
  }
}
