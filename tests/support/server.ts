import { randomUUID } from "node:crypto";
import { createAgoraClient, type AgoraClient } from "@agora/client";
import {
  loadConfig,
  MemoryMailer,
  startServer,
  type Logger,
  type MailMessage,
  type RunningServer,
} from "@agora/server/testing";
import { createTestDatabase } from "./database.js";

export { createTestDatabase };

/** Tests sign their own tokens (expired, foreign audience, ...) with this secret. */
export const TEST_JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789";

/** The environment of an in-process test server on a free local port, quiet, with cheap hashing; `extra` adds or overrides. */
export function testServerEnv(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return {
    NODE_ENV: "test",
    HOST: "127.0.0.1",
    PORT: "0",
    LOG_LEVEL: "silent",
    BCRYPT_COST: "4",
    JWT_SECRET: TEST_JWT_SECRET,
    ...extra,
  };
}
export const TEST_ISSUER = "agora";
export const TEST_AUDIENCE = "agora-api";
export const ADMIN = { email: "admin@agora.test", password: "AdminPassw0rd", username: "root_admin" };

export interface TestServer {
  readonly url: string;
  readonly server: RunningServer;
  readonly mailer: MemoryMailer;
  readonly databaseKind: "postgres" | "embedded";
  /** A client with no credentials, or one that sends the given access token / API key. */
  client(auth?: { token?: string | null; apiKey?: string }): AgoraClient;
  /**
   * The first mail to `to` sent after `after` mails had been sent (mail goes out from
   * background jobs, so it arrives a moment after the call that asked for it).
   */
  waitForMail(to: string, after: number, timeoutMs?: number): Promise<MailMessage>;
  /** Resolves once no job is waiting, retrying or running (background work has settled). */
  waitForIdleJobs(timeoutMs?: number): Promise<void>;
  /** Runs `fn` and returns the SQL statements the server sent meanwhile. */
  captureQueries<T>(fn: () => Promise<T>): Promise<{ result: T; queries: string[] }>;
  close(): Promise<void>;
}

/**
 * Starts the real server on a free port with its own fresh, migrated database. Redis is
 * used when REDIS_URL is set (a unique key prefix keeps files apart). Extra env overrides
 * the test defaults (e.g. `{ RATE_LIMIT_ENABLED: "true" }`).
 */
export async function startTestServer(
  env: Record<string, string> = {},
  options: {
    log?: Logger;
    /** "configured": use the mail transport the config selects (SMTP_URL), not the in-memory one. */
    mail?: "memory" | "configured";
  } = {},
): Promise<TestServer> {
  const { env: dbEnv, drop: dropDatabase } = await createTestDatabase();

  const redisUrl = process.env.REDIS_URL;
  const config = loadConfig({
    NODE_ENV: "test",
    HOST: "127.0.0.1",
    PORT: "0",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    BCRYPT_COST: "4",
    PASSWORD_WORKERS: "1",
    JWT_SECRET: TEST_JWT_SECRET,
    MIGRATE_ON_START: "false",
    RATE_LIMIT_ENABLED: "false",
    JOB_POLL_INTERVAL_SECONDS: "0.5",
    JOB_RETRY_DELAY_SECONDS: "1",
    // Once a year: the clean-up would otherwise run (and query) mid-test at minute 17.
    CLEANUP_CRON: "0 3 1 1 *",
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    ADMIN_USERNAME: ADMIN.username,
    ...(redisUrl ? { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `agora-test:${randomUUID()}:` } : {}),
    // .ci/run's PgBouncer pass serves /trpc with tRPC's adapter alone (the operator's switch).
    ...(process.env.TRPC_ADAPTER ? { TRPC_ADAPTER: process.env.TRPC_ADAPTER } : {}),
    ...dbEnv,
    ...env,
  });
  const mailer = new MemoryMailer();
  let server: RunningServer;
  try {
    server = await startServer(config, {
      ...(options.mail === "configured" ? {} : { mailer }),
      ...(options.log ? { log: options.log } : {}),
    });
    // Seeding (SEED_DEMO) runs in the background after listening; tests start from its result.
    await server.demoSeeded;
  } catch (error) {
    await dropDatabase();
    throw error;
  }

  return {
    url: server.url,
    server,
    mailer,
    databaseKind: "DATABASE_URL" in dbEnv ? "postgres" : "embedded",
    client(auth = {}) {
      return createAgoraClient({
        url: server.url,
        getAccessToken: () => auth.token ?? null,
        ...(auth.apiKey ? { apiKey: auth.apiKey } : {}),
      });
    },
    async waitForMail(to, after, timeoutMs = 15_000) {
      return waitFor(() => mailer.sent.slice(after).find((m) => m.to === to), timeoutMs, `a mail to ${to}`);
    },
    async waitForIdleJobs(timeoutMs = 30_000) {
      await waitFor(
        async () => {
          const counts = await server.services.jobs.counts();
          // The dead-letter queue has no worker: what lands there stays, by design.
          const busy = counts
            .filter((q) => q.queue !== "dead-letter")
            .some((q) => q.created + q.retry + q.active > 0);
          return busy ? undefined : true;
        },
        timeoutMs,
        "background jobs to finish",
      );
    },
    async captureQueries(fn) {
      const queries: string[] = [];
      const stop = server.infra.database.onQuery((sql) => queries.push(sql));
      try {
        const result = await fn();
        return { result, queries };
      } finally {
        stop();
      }
    },
    async close() {
      await server.close();
      await dropDatabase();
    },
  };
}

/** Polls `probe` until it returns something, or fails after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
