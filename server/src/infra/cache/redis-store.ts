import { randomBytes } from "node:crypto";
import { LRUCache } from "lru-cache";
import superjson from "superjson";
import type { Logger } from "../logger.js";
import type { Redis } from "../redis.js";
import type { CacheStore, StoredEntry } from "./cache.js";

/** At most this much stored text is kept decoded (about 16 MB of strings), each entry at most 256 KiB. */
const DECODED_MAX_CHARS = 8 * 1024 * 1024;
const DECODED_MAX_ENTRY_CHARS = 256 * 1024;

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
  /**
   * Entries decoded lately, by their stored text (value and generations): the same text decodes
   * to the same entry, so a hit reuses the object, and what is kept beside it (shared/
   * shared-values.ts), instead of parsing it again. Whether it is current is still decided by
   * the generations read with it; bounded by the text's size.
   */
  private readonly decoded = new LRUCache<string, StoredEntry>({
    maxSize: DECODED_MAX_CHARS,
    sizeCalculation: (_entry, raw) => raw.length,
  });

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
    return { entry: raw ? this.decode(raw) : null, gens: [epoch, ...current] };
  }

  private decode(raw: string): StoredEntry | null {
    const known = this.decoded.get(raw);
    if (known) return known;
    const entry = decodeEntry(raw);
    if (entry && raw.length <= DECODED_MAX_ENTRY_CHARS) this.decoded.set(raw, entry);
    return entry;
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
