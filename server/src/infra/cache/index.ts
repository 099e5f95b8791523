import type { Logger } from "../logger.js";
import type { Redis } from "../redis.js";
import type { CacheStore } from "./cache.js";
import { MemoryCacheStore } from "./memory-store.js";
import { RedisCacheStore } from "./redis-store.js";

export { Cache, type CacheObserver, type CacheStore, type StoredEntry } from "./cache.js";
export { MemoryCacheStore } from "./memory-store.js";
export { CacheDistrustedError, RedisCacheStore } from "./redis-store.js";

/** The one place that picks the store: Redis when configured, else in-process. */
export function createCacheStore(
  redis: Redis | null,
  options: {
    keyPrefix: string;
    maxEntries: number;
    longestTtlMs: number;
    outageNoticedWithinMs: number;
    log: Logger;
  },
): CacheStore {
  return redis
    ? new RedisCacheStore(redis, `${options.keyPrefix}cache:`, {
        genTtlMs: options.longestTtlMs * 2 + 60_000,
        outageNoticedWithinMs: options.outageNoticedWithinMs,
        log: options.log,
      })
    : new MemoryCacheStore(options.maxEntries);
}
