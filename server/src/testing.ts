// What the integration tests import: the real server, its config loader, and the database
// plumbing used to prepare one migrated template database per run.
export { keepDevJwtSecret, loadConfig, type Config } from "./config.js";
export { startServer, type RunningServer } from "./server.js";
export { createPrismaClient } from "./infra/database/db.js";
export { launchEmbeddedPostgres, startEmbeddedPostgres } from "./infra/database/embedded/postgres.js";
export { applyMigrations } from "./infra/database/migrate.js";
export { createLogger, type Logger } from "./infra/logger.js";
export { ConfigError } from "./config.js";
export { MemoryMailer, type MailMessage } from "./infra/mailer.js";
export { Cache, MemoryCacheStore, RedisCacheStore, type CacheStore } from "./infra/cache/index.js";
export { connectRedis, pingRedis } from "./infra/redis.js";
export { JobQueue } from "./infra/jobs.js";
export { MemoryEventBus, RedisEventBus, type BusEvent } from "./infra/events/index.js";
export { MarketEvents } from "./modules/markets/events.js";
export { createApp } from "./app.js";
export { lazyHandler } from "./http/lazy.js";
export { renderApiContract } from "./http/contract.js";
export { DEMO_MARKETS, DEMO_ORDERS, DEMO_POSTS, DEMO_USERS } from "./seed/demo-data.js";
export { ClientDisconnect, invokeProcedure, runsDirectly } from "./http/trpc-fast/invoke.js";
export { JOB_QUEUES } from "./shared/job-queues.js";
export { canManageMarket, canSeeMarket, visibleMarketsSql } from "./modules/markets/policy.js";
export { canCancelOrder, canSeeOrder } from "./modules/orders/policy.js";
export { canSeePost, canWritePost, visiblePostsWhere } from "./modules/posts/policy.js";
export { canManageProduct, canSeeProduct } from "./modules/products/policy.js";
export { canSeeUserEmail, canUpdateUser } from "./modules/users/policy.js";
export type { Principal } from "./shared/principal.js";
