import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import {
  Cache,
  connectRedis,
  createLogger,
  MemoryCacheStore,
  RedisCacheStore,
  type CacheStore,
} from "@agora/server/testing";

/**
 * The cache's consistency rule, against each real store: an entry never outlives a bump of
 * its groups, including the entry of a load that read before a write and stored after it.
 */
const log = createLogger("silent");
const redisUrl = process.env.REDIS_URL;
const redis = redisUrl ? await connectRedis(redisUrl, log, 1_000) : null;
afterAll(async () => {
  await redis?.quit();
});

const stores: [string, () => CacheStore][] = [["memory", () => new MemoryCacheStore(1000)]];
if (redis) {
  stores.push([
    "redis",
    () =>
      new RedisCacheStore(redis, `agora-test:${randomUUID()}:`, {
        genTtlMs: 60_000,
        outageNoticedWithinMs: 1_000,
        log,
      }),
  ]);
}

function gate(): { wait: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

describe.each(stores)("cache over the %s store", (_name, makeStore) => {
  const newCache = () => new Cache(makeStore(), { enabled: true, ttlMs: 60_000, log });

  it("hits until a group is bumped, then loads again", async () => {
    const cache = newCache();
    let loads = 0;
    const read = () =>
      cache.getOrLoad("t", "k", ["g1", "g2"], () => Promise.resolve(`v${String((loads += 1))}`));
    expect(await read()).toBe("v1");
    expect(await read()).toBe("v1");
    await cache.invalidate(["g2"]);
    expect(await read()).toBe("v2");
    await cache.invalidate(["unrelated"]);
    expect(await read()).toBe("v2");
  });

  it("never keeps a value loaded before a write and stored after its bump", async () => {
    const cache = newCache();
    let db = "old";
    const reading = gate();
    const slow = gate();
    const stale = cache.getOrLoad("t", "race", ["row"], async () => {
      const seen = db; // reads before the write commits...
      reading.open();
      await slow.wait;
      return seen; // ...and stores after its invalidation
    });
    await reading.wait;
    db = "new";
    await cache.invalidate(["row"]);
    slow.open();
    expect(await stale).toBe("old");
    expect(await cache.getOrLoad("t", "race", ["row"], () => Promise.resolve(db))).toBe("new");
  });

  it("shares one load among concurrent misses, but not with a read that began after a bump", async () => {
    const cache = newCache();
    let loads = 0;
    const slow = gate();
    const load = async () => {
      const mine = (loads += 1);
      await slow.wait;
      return mine;
    };
    // Until `loads` reaches `n` (a store takes a few round trips first), then a moment more.
    const settled = async (n: number) => {
      for (let i = 0; i < 200 && loads < n; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
      await new Promise((resolve) => setTimeout(resolve, 20));
    };
    const a = cache.getOrLoad("t", "shared", ["s"], load);
    const b = cache.getOrLoad("t", "shared", ["s"], load);
    await settled(1);
    expect(loads).toBe(1);
    await cache.invalidate(["s"]);
    const c = cache.getOrLoad("t", "shared", ["s"], load);
    await settled(2);
    expect(loads).toBe(2);
    slow.open();
    expect(await a).toBe(1);
    expect(await b).toBe(1);
    expect(await c).toBe(2);
  });

  it("caches null (a missing row) and Dates faithfully", async () => {
    const cache = newCache();
    const when = new Date("2026-01-02T03:04:05.678Z");
    expect(await cache.getOrLoad("t", "none", ["n"], () => Promise.resolve(null))).toBeNull();
    expect(await cache.getOrLoad("t", "none", ["n"], () => Promise.resolve("loaded"))).toBeNull();
    await cache.getOrLoad("t", "date", ["d"], () => Promise.resolve({ at: when }));
    const hit = await cache.getOrLoad("t", "date", ["d"], () => Promise.resolve({ at: new Date(0) }));
    expect(hit.at).toBeInstanceOf(Date);
    expect(hit.at.toISOString()).toBe(when.toISOString());
  });
});

describe("a failing store", () => {
  it("falls back to the loader and never fails the read", async () => {
    const failing: CacheStore = {
      kind: "redis",
      read: () => Promise.reject(new Error("connection refused")),
      write: () => Promise.reject(new Error("connection refused")),
      bump: () => Promise.reject(new Error("connection refused")),
    };
    const cache = new Cache(failing, { enabled: true, ttlMs: 1000, log });
    expect(await cache.getOrLoad("t", "k", ["g"], () => Promise.resolve(42))).toBe(42);
    await cache.invalidate(["g"]); // logged, not thrown: the write already happened
    await expect(cache.invalidateOrThrow(["g"])).rejects.toThrow("connection refused");
  });
});

describe("the memory store's size bound", () => {
  it("holds at most CACHE_MAX_ENTRIES entries, evicting the least recently used", async () => {
    const store = new MemoryCacheStore(100);
    for (let i = 0; i < 150; i += 1) await store.write(`k${String(i)}`, { value: i, gens: [] }, 60_000);
    const held = [];
    for (let i = 0; i < 150; i += 1) if ((await store.read(`k${String(i)}`, [])).entry) held.push(i);
    expect(held).toEqual(Array.from({ length: 100 }, (_, i) => i + 50));
  });
});

describe("the memory store's eviction of generations", () => {
  it("cannot resurrect an entry loaded before an evicted bump", async () => {
    const store = new MemoryCacheStore(100); // generations: 400 slots
    const cache = new Cache(store, { enabled: true, ttlMs: 60_000, log });
    await cache.getOrLoad("t", "victim", ["victim"], () => Promise.resolve("before"));
    await cache.invalidate(["victim"]);
    // Push the bumped generation out of the LRU.
    for (let i = 0; i < 500; i += 1) await cache.invalidate([`filler-${String(i)}`]);
    expect(await cache.getOrLoad("t", "victim", ["victim"], () => Promise.resolve("after"))).toBe("after");
  });
});
