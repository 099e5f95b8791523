import { markShared } from "../../shared/shared-values.js";
import type { Logger } from "../logger.js";

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
   *
   * What it returns with the cache on is shared between calls (`markShared`): never change it.
   * What is derived from it may be kept beside it (the fast /trpc path keeps its answer's bytes).
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
      return markShared(entry.value) as T;
    }
    this.options.observer?.miss(name);
    // Joining a load is safe only if it started under the same generations: one that began
    // before a bump may have read the database before the write.
    const flightKey = `${key}\u0000${gens.join(",")}`;
    const pending = this.inflight.get(flightKey);
    if (pending) return pending as Promise<T>;
    const loading = (async () => {
      try {
        // Handed to every caller that joins this load and, from the store, to every later hit.
        const value = markShared(await load());
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
