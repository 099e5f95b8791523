import { Cache, createCacheStore } from "./cache.js";
import { openDatabase } from "./db.js";
import { createEventBus } from "./events.js";
import { JobQueue } from "./jobs.js";
import { MemoryMailer, OutboxMailer, SmtpMailer } from "./mailer.js";
import { Metrics } from "./metrics.js";
import { PasswordHasher } from "./passwords.js";
import { rateLimiterFactory } from "./rate-limit.js";
import { connectRedis } from "./redis.js";
function chooseMailer(config) {
    if (config.mail.smtpUrl)
        return new SmtpMailer(config.mail.smtpUrl, config.mail.from);
    if (config.mail.outboxDir)
        return new OutboxMailer(config.mail.outboxDir);
    return new MemoryMailer();
}
export async function createInfra(config, options) {
    const { log } = options;
    const closers = [];
    const close = async () => {
        for (const { name, close: fn } of closers.reverse()) {
            try {
                await fn();
            }
            catch (err) {
                log.error({ err, resource: name }, "error while closing a resource");
            }
        }
    };
    try {
        const database = await openDatabase(config, log);
        closers.push({ name: "database", close: () => database.close() });
        let redis = null;
        if (config.redis) {
            const client = await connectRedis(config.redis.url, log);
            redis = client;
            closers.push({
                name: "redis",
                close: async () => {
                    await client.quit();
                },
            });
        }
        const keyPrefix = config.redis?.keyPrefix ?? "agora:";
        const passwords = new PasswordHasher(config.auth.bcryptCost, config.auth.passwordWorkers);
        closers.push({ name: "password workers", close: () => passwords.close() });
        const events = createEventBus(redis, keyPrefix, log);
        closers.push({ name: "event bus", close: () => events.close() });
        const metrics = new Metrics({
            pool: database.pool,
            poolSize: config.database.poolSize,
            // Read at scrape time, when `jobs` exists.
            jobCounts: () => jobs.counts(),
            log,
        });
        const jobs = new JobQueue(database.pool, { ...config.jobs, log, observer: metrics });
        // Stopped before the database closes: running jobs finish on a live pool.
        closers.push({ name: "job queue", close: () => jobs.stop(config.shutdownTimeoutMs) });
        const cache = new Cache(createCacheStore(redis, {
            keyPrefix,
            maxEntries: config.cache.maxEntries,
            longestTtlMs: Math.max(config.cache.ttlSeconds, config.cache.sessionTtlSeconds) * 1000,
        }), { enabled: config.cache.enabled, ttlMs: config.cache.ttlSeconds * 1000, log, observer: metrics });
        return {
            config,
            log,
            database,
            redis,
            events,
            passwords,
            mailer: options.mailer ?? chooseMailer(config),
            rateLimiter: rateLimiterFactory(redis, keyPrefix, config.rateLimit.enabled),
            cache,
            jobs,
            metrics,
            close,
        };
    }
    catch (error) {
        await close();
        throw error;
    }
}
//# sourceMappingURL=index.js.map