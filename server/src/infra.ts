import type { Config } from "./config.js";
import { Cache, createCacheStore } from "./infra/cache/index.js";
import { createDatabase, type Database } from "./infra/database/db.js";
import type { EmbeddedLaunch } from "./infra/database/embedded/postgres.js";
import { createEventBus, type EventBus } from "./infra/events/index.js";
import { JobQueue } from "./infra/jobs.js";
import type { Logger } from "./infra/logger.js";
import { MemoryMailer, OutboxMailer, SmtpMailer, type Mailer } from "./infra/mailer.js";
import { Metrics } from "./infra/metrics.js";
import { PasswordHasher } from "./infra/passwords.js";
import { rateLimiterFactory, type RateLimiterFactory } from "./infra/rate-limit.js";
import { connectRedis, outageNoticedWithinMs, type Redis } from "./infra/redis.js";

/**
 * Everything the services stand on, each concern with an embedded implementation (no
 * REDIS_URL: in-process cache, limiter and pub/sub; no DATABASE_URL: PGlite) and a shared
 * one, chosen here and nowhere else.
 */
export interface Infra {
  readonly config: Config;
  readonly log: Logger;
  readonly database: Database;
  readonly redis: Redis | null;
  readonly events: EventBus;
  readonly passwords: PasswordHasher;
  readonly mailer: Mailer;
  readonly rateLimiter: RateLimiterFactory;
  readonly cache: Cache;
  readonly jobs: JobQueue;
  readonly metrics: Metrics;
  /** Closes what was opened, in reverse order. */
  close(): Promise<void>;
}

export interface InfraOptions {
  log: Logger;
  /** Replaces the configured mail transport (tests read mail from a MemoryMailer). */
  mailer?: Mailer;
  /** The embedded database, already starting (see main.ts). */
  embeddedDatabase?: EmbeddedLaunch;
}

function chooseMailer(config: Config): Mailer {
  if (config.mail.smtpUrl) {
    // A job attempt (a send) may take JOB_TIMEOUT_SECONDS; each SMTP step gets a sixth of it.
    const stepMs = Math.min(10_000, Math.floor((config.jobs.timeoutSeconds * 1000) / 6));
    return new SmtpMailer(config.mail.smtpUrl, config.mail.from, stepMs);
  }
  if (config.mail.outboxDir) return new OutboxMailer(config.mail.outboxDir);
  return new MemoryMailer();
}

export async function createInfra(config: Config, options: InfraOptions): Promise<Infra> {
  const { log } = options;
  const closers: { name: string; close: () => Promise<void> }[] = [];
  const close = async () => {
    for (const { name, close: fn } of closers.reverse()) {
      try {
        await fn();
      } catch (err) {
        log.error({ err, resource: name }, "error while closing a resource");
      }
    }
  };

  try {
    // Not open yet (see Database.open): the rest is built while the embedded database opens.
    const database = await createDatabase(config.database, log, options.embeddedDatabase, {
      compileOnOpen: config.redis === null,
    });
    closers.push({ name: "database", close: () => database.close() });

    let redis: Redis | null = null;
    if (config.redis) {
      const client = await connectRedis(config.redis.url, log, config.redis.commandTimeoutMs);
      redis = client;
      closers.push({
        name: "redis",
        close: async () => {
          await client.quit();
        },
      });
    }
    const keyPrefix = config.redis?.keyPrefix ?? "agora:";

    const passwords = new PasswordHasher(
      config.auth.bcryptCost,
      config.auth.passwordWorkers,
      config.auth.passwordQueueMax,
      config.auth.passwordWorkerNice,
    );
    closers.push({ name: "password workers", close: () => passwords.close() });

    const events = createEventBus(redis, keyPrefix, log, { replayMax: config.streams.replayMax });
    closers.push({ name: "event bus", close: () => events.close() });

    const metrics: Metrics = new Metrics({
      pool: database.pool,
      poolSize: config.database.poolSize,
      // Read at scrape time, when `jobs` exists.
      jobCounts: () => jobs.counts(),
      log,
    });
    const jobs: JobQueue = new JobQueue(database.pool, { ...config.jobs, log, observer: metrics });
    // Stopped before the database closes: running jobs finish on a live pool.
    closers.push({ name: "job queue", close: () => jobs.stop(config.shutdownTimeoutMs) });

    const cache = new Cache(
      createCacheStore(redis, {
        keyPrefix,
        maxEntries: config.cache.maxEntries,
        longestTtlMs: Math.max(config.cache.ttlSeconds, config.cache.sessionTtlSeconds) * 1000,
        outageNoticedWithinMs: outageNoticedWithinMs(config.redis?.commandTimeoutMs ?? 0),
        log,
      }),
      { enabled: config.cache.enabled, ttlMs: config.cache.ttlSeconds * 1000, log, observer: metrics },
    );

    return {
      config,
      log,
      database,
      redis,
      events,
      passwords,
      mailer: options.mailer ?? chooseMailer(config),
      rateLimiter: rateLimiterFactory(redis, keyPrefix, config.rateLimit, log),
      cache,
      jobs,
      metrics,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
