import { LRUCache } from "lru-cache";
import superjson from "superjson";
/**
 * One process: entries in an LRU with TTLs; generations in a larger LRU. When a generation
 * is evicted, `floor` rises to its value, and a missing generation reads as the floor, so an
 * entry loaded before an evicted bump can never look current again.
 */
export class MemoryCacheStore {
    kind = "memory";
    entries;
    gens;
    seq = 0;
    floor = 0;
    constructor(maxEntries) {
        this.entries = new LRUCache({ max: maxEntries });
        this.gens = new LRUCache({
            max: maxEntries * 4,
            dispose: (value, _key, reason) => {
                if (reason === "evict" && value > this.floor)
                    this.floor = value;
            },
        });
    }
    gen(group) {
        return String(this.gens.get(group) ?? this.floor);
    }
    read(key, groups) {
        return Promise.resolve({ entry: this.entries.get(key) ?? null, gens: groups.map((g) => this.gen(g)) });
    }
    write(key, entry, ttlMs) {
        this.entries.set(key, entry, { ttl: ttlMs });
        return Promise.resolve();
    }
    bump(groups) {
        for (const group of groups) {
            this.seq += 1;
            this.gens.set(group, this.seq);
        }
        return Promise.resolve();
    }
}
/**
 * Shared by every instance. Generations are Redis counters that live longer than any entry
 * (`genTtlMs`), so one expiring can only ever orphan entries that have expired already.
 * Eviction under memory pressure would break that: Redis must run with `noeviction` (see README).
 */
export class RedisCacheStore {
    redis;
    prefix;
    genTtlMs;
    kind = "redis";
    constructor(redis, prefix, genTtlMs) {
        this.redis = redis;
        this.prefix = prefix;
        this.genTtlMs = genTtlMs;
    }
    entryKey(key) {
        return `${this.prefix}c:${key}`;
    }
    genKey(group) {
        return `${this.prefix}g:${group}`;
    }
    async read(key, groups) {
        const [raw, ...gens] = await this.redis.mget(this.entryKey(key), ...groups.map((g) => this.genKey(g)));
        return { entry: raw ? decodeEntry(raw) : null, gens: gens.map((g) => g ?? "0") };
    }
    async write(key, entry, ttlMs) {
        await this.redis.set(this.entryKey(key), superjson.stringify(entry), "PX", ttlMs);
    }
    async bump(groups) {
        if (groups.length === 0)
            return;
        const multi = this.redis.multi();
        for (const group of groups)
            multi.incr(this.genKey(group)).pexpire(this.genKey(group), this.genTtlMs);
        const results = await multi.exec();
        const failed = results?.find(([err]) => err !== null);
        if (!results || failed)
            throw failed?.[0] ?? new Error("Redis transaction was discarded");
    }
}
function decodeEntry(raw) {
    try {
        const parsed = superjson.parse(raw);
        if (typeof parsed === "object" && parsed !== null && "value" in parsed && "gens" in parsed) {
            const gens = parsed.gens;
            if (Array.isArray(gens) && gens.every((g) => typeof g === "string")) {
                return { value: parsed.value, gens };
            }
        }
        return null;
    }
    catch {
        return null;
    }
}
function sameGens(a, b) {
    return a.length === b.length && a.every((g, i) => g === b[i]);
}
export class Cache {
    store;
    options;
    /** Loads in flight per key and generation snapshot: concurrent misses share one load. */
    inflight = new Map();
    lastWarning = 0;
    constructor(store, options) {
        this.store = store;
        this.options = options;
    }
    get enabled() {
        return this.options.enabled;
    }
    /**
     * The cached value of `key`, or what `load` returns (then cached under the generations of
     * `groups` read before it ran). `name` labels the metrics. A store failure never fails the
     * call: it is logged and the value is loaded without caching.
     */
    async getOrLoad(name, key, groups, load, options = {}) {
        if (!this.options.enabled && options.alwaysOn !== true)
            return load();
        let snapshot;
        try {
            snapshot = await this.store.read(key, groups);
        }
        catch (err) {
            this.warn(name, err);
            return load();
        }
        const { entry, gens } = snapshot;
        if (entry && sameGens(entry.gens, gens)) {
            this.options.observer?.hit(name);
            return entry.value;
        }
        this.options.observer?.miss(name);
        // Joining a load is safe only if it started under the same generations: one that began
        // before a bump may have read the database before the write.
        const flightKey = `${key}\u0000${gens.join(",")}`;
        const pending = this.inflight.get(flightKey);
        if (pending)
            return pending;
        const loading = (async () => {
            try {
                const value = await load();
                try {
                    await this.store.write(key, { value, gens }, options.ttlMs ?? this.options.ttlMs);
                }
                catch (err) {
                    this.warn(name, err);
                }
                return value;
            }
            finally {
                this.inflight.delete(flightKey);
            }
        })();
        this.inflight.set(flightKey, loading);
        return loading;
    }
    /**
     * Marks the groups' entries stale after a committed write. A failure is logged, not thrown:
     * the write has happened, and failing the call would invite a retry that repeats it. The
     * entries then age out within their TTL.
     */
    async invalidate(groups) {
        try {
            await this.store.bump(groups);
        }
        catch (err) {
            this.options.observer?.error("invalidate");
            this.options.log.error({ err, groups }, "cache invalidation failed: entries may be stale until their TTL");
        }
    }
    /** Like `invalidate`, but throws: for revocations, whose callers may safely retry. */
    async invalidateOrThrow(groups) {
        await this.store.bump(groups);
    }
    warn(name, err) {
        this.options.observer?.error(name);
        const now = Date.now();
        if (now - this.lastWarning < 10_000)
            return;
        this.lastWarning = now;
        this.options.log.warn({ err, cache: name }, "cache store unavailable: reading from the database");
    }
}
/** The one place that picks the store: Redis when configured, else in-process. */
export function createCacheStore(redis, options) {
    return redis
        ? new RedisCacheStore(redis, `${options.keyPrefix}cache:`, options.longestTtlMs * 2 + 60_000)
        : new MemoryCacheStore(options.maxEntries);
}
//# sourceMappingURL=cache.js.map