import { randomBytes } from "node:crypto";
import { LRUCache } from "lru-cache";
import superjson from "superjson";
import type { Logger } from "./logger.js";
import type { Redis } from "./redis.js";

/**
 * Cache-aside with generation-checked entries.
 *
 * Every entry belongs to one or more *groups* (`market:<id>`, `markets`, `sessions:<userId>`).
 * A write that changes what a group's entries say *bumps* the group's generation after it
 * commits. An entry remembers the generations it was loaded under, read *before* the loader
 * ran; it is served only while they are all still current. So an entry can never outlive a
 * write: not even one loaded by a request that read the database just before the write
 * committed and stored its result just after the bump (the race that plain "delete the key
 * on write" and timestamp tags both lose).
 *
 * Two stores, chosen in one place (`createCacheStore`): in-process (LRU) when there is no
 * Redis, and Redis when there is. The Redis store has no in-process tier on purpose: a bump
 * is then visible to every instance the moment it returns, where a bus-invalidated local
 * tier would serve stale entries until the message arrives.
 */

/** What a store keeps per key: the value and the group generations it was loaded under. */
export interface StoredEntry {
  readonly value: unknown;
  readonly gens: readonly string[];
}

export interface CacheStore {
  readonly kind: "memory" | "redis";
  /** The entry under `key` (or null) and the current generation of each group, in one round trip. */
  read(key: string, groups: readonly string[]): Promise<{ entry: StoredEntry | null; gens: string[] }>;
  write(key: string, entry: StoredEntry, ttlMs: number): Promise<void>;
  /** Makes every entry of these groups stale, on every instance. */
  bump(groups: readonly string[]): Promise<void>;
}

/**
 * One process: entries in an LRU with TTLs; generations in a larger LRU. When a generation
 * is evicted, `floor` rises to its value, and a missing generation reads as the floor, so an
 * entry loaded before an evicted bump can never look current again.
 */
export class MemoryCacheStore implements CacheStore {
  readonly kind = "memory";
  private readonly entries: LRUCache<string, StoredEntry>;
  private readonly gens: LRUCache<string, number>;
  private seq = 0;
  private floor = 0;

  constructor(maxEntries: number) {
    // Bounded by count through `maxSize` (each entry sizes 1) rather than `max`: with `max`,
    // lru-cache allocates its arrays for every slot up front, 70 ms of each start at the
    // default 50,000 entries (and 200,000 generations); these grow as they fill.
    this.entries = new LRUCache({ maxSize: maxEntries, sizeCalculation: () => 1 });
    this.gens = new LRUCache({
      maxSize: maxEntries * 4,
      sizeCalculation: () => 1,
      dispose: (value, _key, reason) => {
        if (reason === "evict" && value > this.floor) this.floor = value;
      },
    });
  }

  private gen(group: string): string {
    return String(this.gens.get(group) ?? this.floor);
  }

  read(key: string, groups: readonly string[]): Promise<{ entry: StoredEntry | null; gens: string[] }> {
    return Promise.resolve({ entry: this.entries.get(key) ?? null, gens: groups.map((g) => this.gen(g)) });
  }

  write(key: string, entry: StoredEntry, ttlMs: number): Promise<void> {
    this.entries.set(key, entry, { ttl: ttlMs });
    return Promise.resolve();
  }

  bump(groups: readonly string[]): Promise<void> {
    for (const group of groups) {
      this.seq += 1;
      this.gens.set(group, this.seq);
    }
    return Promise.resolve();
  }
}

/** The cache cannot be trusted right now: read from the database, and cache nothing. */
export class CacheDistrustedError extends Error {
  override readonly name = "CacheDistrustedError";
}

export interface RedisCacheStoreOptions {
  /** Generations outlive every entry by this much (see below). */
  genTtlMs: number;
  /**
   * Longer than any instance takes to notice that Redis stopped answering (its watcher's
   * interval plus two command timeouts): a write whose invalidation cannot reach Redis waits
   * up to this long for it, and past it every instance has noticed the outage.
   */
  outageNoticedWithinMs: number;
  log: Logger;
}

/**
 * Shared by every instance. Generations are Redis counters that live longer than any entry
 * (`genTtlMs`), so one expiring can only ever orphan entries that have expired already.
 * Eviction under memory pressure would break that: Redis must run with `noeviction` (see README).
 *
 * After an outage, entries may be stale: an invalidation that could not reach Redis is lost,
 * and a Redis restarted from its persisted data brings back entries and generations from
 * before later writes. So no read may trust an entry written before an outage:
 * - every entry also carries the cache's *epoch* (a random token in Redis, read with the
 *   entry and the generations in the same MGET);
 * - an instance that sees its connection to Redis close (a stop, a restart, a freeze its
 *   watcher noticed) serves nothing from the cache and writes nothing to it, until Redis
 *   answers again and it has replaced the epoch, which makes every older entry stale;
 * - a write whose invalidation fails keeps trying while it waits, for up to
 *   `outageNoticedWithinMs`: either the invalidation lands, or the outage has lasted long
 *   enough that every instance has noticed it and will replace the epoch before serving.
 * What this cannot cover is an outage only one instance sees (a network partition between it
 * and Redis while the others reach Redis): the README says so.
 */
export class RedisCacheStore implements CacheStore {
  readonly kind = "redis";
  /** "distrusted": an outage was seen and the epoch not yet replaced since. */
  private state: "trusted" | "distrusted" = "trusted";
  private renewing = false;
  /** Counts outages seen, so a renewal that raced a new outage does not restore trust. */
  private outages = 0;
  /** When Redis was first seen failing in the current outage (null while it answers). */
  private failingSince: number | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly options: RedisCacheStoreOptions,
  ) {
    redis.on("close", () => {
      this.distrust();
    });
    redis.on("ready", () => {
      this.renew();
    });
  }

  private entryKey(key: string): string {
    return `${this.prefix}c:${key}`;
  }
  private genKey(group: string): string {
    return `${this.prefix}g:${group}`;
  }
  private get epochKey(): string {
    return `${this.prefix}epoch`;
  }

  private distrust(): void {
    this.outages += 1;
    this.failingSince ??= Date.now();
    if (this.state !== "distrusted") {
      this.state = "distrusted";
      this.options.log.warn(
        "cache suspended: Redis was unreachable; reads go to the database until it answers",
      );
    }
  }

  /**
   * After an outage, once Redis answers: replaces the epoch (every entry written before is then
   * stale); only then are entries served again.
   */
  private renew(): void {
    if (this.renewing || this.state !== "distrusted" || this.redis.status !== "ready") return;
    this.renewing = true;
    const outages = this.outages;
    this.redis
      .set(this.epochKey, randomBytes(12).toString("base64url"))
      .then(() => {
        this.failingSince = null;
        if (this.outages !== outages) return;
        this.state = "trusted";
        this.options.log.info("cache resumed: entries written before the outage are dropped");
      })
      .catch(() => undefined)
      .finally(() => {
        this.renewing = false;
      });
  }

  async read(key: string, groups: readonly string[]): Promise<{ entry: StoredEntry | null; gens: string[] }> {
    if (this.state === "distrusted") {
      this.renew();
      throw new CacheDistrustedError("cache suspended after a Redis outage");
    }
    let found: (string | null)[];
    try {
      found = await this.redis.mget(this.entryKey(key), this.epochKey, ...groups.map((g) => this.genKey(g)));
    } catch (error) {
      this.failingSince ??= Date.now(); // a write's invalidation waits from here (see `bump`)
      throw error;
    }
    this.failingSince = null;
    const [raw, epoch, ...gens] = found;
    const current = gens.map((g) => g ?? "0");
    if (epoch === null || epoch === undefined) {
      // A new Redis, or one that lost its data (and its entries with it): the first reader
      // makes the epoch, and an entry found meanwhile is not one of it.
      await this.redis.set(this.epochKey, randomBytes(12).toString("base64url"), "NX");
      const made = await this.redis.get(this.epochKey);
      if (made === null) throw new CacheDistrustedError("cache epoch missing");
      return { entry: null, gens: [made, ...current] };
    }
    return { entry: raw ? decodeEntry(raw) : null, gens: [epoch, ...current] };
  }

  async write(key: string, entry: StoredEntry, ttlMs: number): Promise<void> {
    // Loaded under an epoch read before an outage, perhaps: never stored.
    if (this.state === "distrusted") return;
    await this.redis.set(this.entryKey(key), superjson.stringify(entry), "PX", ttlMs);
  }

  async bump(groups: readonly string[]): Promise<void> {
    if (groups.length === 0) return;
    for (;;) {
      try {
        await this.bumpOnce(groups);
        this.failingSince = null;
        return;
      } catch (error) {
        const since = (this.failingSince ??= Date.now());
        const waited = Date.now() - since;
        if (waited >= this.options.outageNoticedWithinMs) {
          // Every instance has noticed by now, and none serves entries until the epoch is replaced.
          this.distrust();
          throw error;
        }
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(100, this.options.outageNoticedWithinMs - waited)),
        );
      }
    }
  }

  private async bumpOnce(groups: readonly string[]): Promise<void> {
    const multi = this.redis.multi();
    for (const group of groups)
      multi.incr(this.genKey(group)).pexpire(this.genKey(group), this.options.genTtlMs);
    const results = await multi.exec();
    const failed = results?.find(([err]) => err !== null);
    if (!results || failed) throw failed?.[0] ?? new Error("Redis transaction was discarded");
  }
}

function decodeEntry(raw: string): StoredEntry | null {
  try {
    const parsed: unknown = superjson.parse(raw);
    if (typeof parsed === "object" && parsed !== null && "value" in parsed && "gens" in parsed) {
      const gens = parsed.gens;
      if (Array.isArray(gens) && gens.every((g) => typeof g === "string")) {
        return { value: parsed.value, gens };
      }
    }
    return null;
  } catch {
    return null;
  }
}

export interface CacheObserver {
  hit(cache: string): void;
  miss(cache: string): void;
  error(cache: string): void;
}

export interface CacheOptions {
  /** Data caches on or off; session checks (`alwaysOn`) are cached either way. */
  enabled: boolean;
  ttlMs: number;
  log: Logger;
  observer?: CacheObserver;
}

export interface LoadOptions {
  ttlMs?: number;
  /** Cache even when data caching is switched off (the session check relies on this). */
  alwaysOn?: boolean;
}

function sameGens(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((g, i) => g === b[i]);
}

export class Cache {
  /** Loads in flight per key and generation snapshot: concurrent misses share one load. */
  private readonly inflight = new Map<string, Promise<unknown>>();
  private lastWarning = 0;

  constructor(
    readonly store: CacheStore,
    private readonly options: CacheOptions,
  ) {}

  get enabled(): boolean {
    return this.options.enabled;
  }

  /**
   * The cached value of `key`, or what `load` returns (then cached under the generations of
   * `groups` read before it ran). `name` labels the metrics. A store failure never fails the
   * call: it is logged and the value is loaded without caching.
   */
  async getOrLoad<T>(
    name: string,
    key: string,
    groups: readonly string[],
    load: () => Promise<T>,
    options: LoadOptions = {},
  ): Promise<T> {
    if (!this.options.enabled && options.alwaysOn !== true) return load();
    let snapshot: { entry: StoredEntry | null; gens: string[] };
    try {
      snapshot = await this.store.read(key, groups);
    } catch (err) {
      this.warn(name, err);
      return load();
    }
    const { entry, gens } = snapshot;
    if (entry && sameGens(entry.gens, gens)) {
      this.options.observer?.hit(name);
      return entry.value as T;
    }
    this.options.observer?.miss(name);
    // Joining a load is safe only if it started under the same generations: one that began
    // before a bump may have read the database before the write.
    const flightKey = `${key}\u0000${gens.join(",")}`;
    const pending = this.inflight.get(flightKey);
    if (pending) return pending as Promise<T>;
    const loading = (async () => {
      try {
        const value = await load();
        try {
          await this.store.write(key, { value, gens }, options.ttlMs ?? this.options.ttlMs);
        } catch (err) {
          this.warn(name, err);
        }
        return value;
      } finally {
        this.inflight.delete(flightKey);
      }
    })();
    this.inflight.set(flightKey, loading);
    return loading;
  }

  /**
   * Marks the groups' entries stale after a committed write. A failure is logged, not thrown:
   * the write has happened, and failing the call would invite a retry that repeats it. The
   * store has then made sure no instance serves those entries (see RedisCacheStore).
   */
  async invalidate(groups: readonly string[]): Promise<void> {
    try {
      await this.store.bump(groups);
    } catch (err) {
      this.options.observer?.error("invalidate");
      this.options.log.error(
        { err, groups },
        "cache invalidation failed: the cache is suspended until Redis answers again",
      );
    }
  }

  /** Like `invalidate`, but throws: for revocations, whose callers may safely retry. */
  async invalidateOrThrow(groups: readonly string[]): Promise<void> {
    await this.store.bump(groups);
  }

  private warn(name: string, err: unknown): void {
    this.options.observer?.error(name);
    const now = Date.now();
    if (now - this.lastWarning < 10_000) return;
    this.lastWarning = now;
    this.options.log.warn({ err, cache: name }, "cache store unavailable: reading from the database");
  }
}

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
