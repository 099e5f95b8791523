import { LRUCache } from "lru-cache";
import type { CacheStore, StoredEntry } from "./cache.js";

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
