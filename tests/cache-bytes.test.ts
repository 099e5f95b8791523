import { afterAll, beforeAll, describe, expect, it } from "vitest";
import superjson from "superjson";
import { createTestDatabase, type TestDatabase } from "./support/database.js";
import { createMarket, createProduct } from "./support/marketplace.js";
import { registerUser, type UserSession } from "./support/people.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { servicesUnavailable, startOwnedRedis, type OwnedRedis } from "./support/services.js";

/**
 * A cache hit on the fast /trpc path writes the bytes kept beside the cache entry (its output
 * validated once, its answer serialized once: http/trpc-fast/). Its answer must be the one an
 * uncached server writes, byte for byte: status, every header (but those that differ on every
 * request) and the body. Each mode runs a server with the cache on, in process or in Redis,
 * reads twice (a miss, then a hit), stops it, and reads the same through a server with the
 * cache off on the same database.
 */

/** Headers that differ on every request, whatever the cache does (the request id is sent, so it is the same). */
const PER_REQUEST = new Set(["server-timing", "date", "keep-alive", "connection"]);

interface Answer {
  status: number;
  headers: [string, string][];
  body: string;
}

async function answer(url: string, path: string, requestId: string, token?: string): Promise<Answer> {
  const res = await fetch(`${url}${path}`, {
    headers: {
      "accept-encoding": "identity",
      // Error answers carry it in their body: the same id makes them comparable.
      "x-request-id": requestId,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
  });
  const headers: [string, string][] = [];
  res.headers.forEach((value, name) => {
    if (!PER_REQUEST.has(name)) headers.push([name, value]);
  });
  return { status: res.status, headers, body: await res.text() };
}

const q = (input: unknown) => encodeURIComponent(JSON.stringify(superjson.serialize(input)));

interface Fixture {
  seller: UserSession;
  other: UserSession;
  requests: { name: string; path: string; as?: "seller" | "other" }[];
}

async function arrange(ts: TestServer): Promise<Fixture> {
  const seller = await registerUser(ts);
  const other = await registerUser(ts);
  const active = await createMarket(seller.api, { description: 'Ünïcode – \u2028 "quoted" <b>' });
  const draft = await createMarket(seller.api, { status: "DRAFT" });
  const product = await createProduct(seller.api, active.id);
  return {
    seller,
    other,
    requests: [
      { name: "markets.byId", path: `/trpc/markets.byId?input=${q({ id: active.id })}` },
      {
        name: "markets.byId as a user",
        path: `/trpc/markets.byId?input=${q({ id: active.id })}`,
        as: "other",
      },
      {
        name: "a DRAFT market to its owner",
        path: `/trpc/markets.byId?input=${q({ id: draft.id })}`,
        as: "seller",
      },
      {
        name: "a DRAFT market to another user",
        path: `/trpc/markets.byId?input=${q({ id: draft.id })}`,
        as: "other",
      },
      { name: "a DRAFT market to anyone", path: `/trpc/markets.byId?input=${q({ id: draft.id })}` },
      { name: "markets.list", path: `/trpc/markets.list?input=${q({ status: "ACTIVE" })}` },
      { name: "markets.list with drafts", path: `/trpc/markets.list?input=${q({})}`, as: "seller" },
      { name: "products.byId", path: `/trpc/products.byId?input=${q({ id: product.id })}` },
      { name: "products.list", path: `/trpc/products.list?input=${q({ marketId: active.id })}` },
      { name: "users.byId", path: `/trpc/users.byId?input=${q({ id: seller.user.id })}` },
      { name: "users.me", path: "/trpc/users.me", as: "seller" },
      {
        name: "a batch",
        path: `/trpc/markets.byId,users.byId,markets.byId?batch=1&input=${encodeURIComponent(
          JSON.stringify({
            0: superjson.serialize({ id: active.id }),
            1: superjson.serialize({ id: seller.user.id }),
            2: superjson.serialize({ id: draft.id }),
          }),
        )}`,
      },
    ],
  };
}

const modes = ["in process", ...(servicesUnavailable() === null ? ["Redis"] : [])] as const;

describe.each(modes)("a cache hit answers byte for byte as an uncached server (cache %s)", (mode) => {
  let database: TestDatabase;
  let redis: OwnedRedis | null = null;
  const cached: Record<string, [Answer, Answer]> = {};
  const uncached: Record<string, Answer> = {};
  let names: string[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    if (mode === "Redis") redis = await startOwnedRedis();
    const withCache = await startTestServer({
      ...database.env,
      CACHE_ENABLED: "true",
      REDIS_URL: redis?.url ?? "",
    });
    let fixture: Fixture;
    try {
      fixture = await arrange(withCache);
      const tokens = { seller: fixture.seller.tokens.accessToken, other: fixture.other.tokens.accessToken };
      for (const [i, r] of fixture.requests.entries()) {
        const token = r.as ? tokens[r.as] : undefined;
        const miss = await answer(withCache.url, r.path, `bytes-${String(i)}`, token);
        const hit = await answer(withCache.url, r.path, `bytes-${String(i)}`, token);
        cached[r.name] = [miss, hit];
      }
    } finally {
      await withCache.close();
    }
    const withoutCache = await startTestServer({ ...database.env, CACHE_ENABLED: "false", REDIS_URL: "" });
    try {
      const tokens = { seller: fixture.seller.tokens.accessToken, other: fixture.other.tokens.accessToken };
      for (const [i, r] of fixture.requests.entries()) {
        const token = r.as ? tokens[r.as] : undefined;
        uncached[r.name] = await answer(withoutCache.url, r.path, `bytes-${String(i)}`, token);
      }
    } finally {
      await withoutCache.close();
    }
    names = fixture.requests.map((r) => r.name);
  });

  afterAll(async () => {
    await redis?.destroy();
    await database.drop();
  });

  it("answers every read the same, hit or miss, as the server without a cache", () => {
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) {
      const [miss, hit] = cached[name] ?? [];
      expect(hit, name).toEqual(uncached[name]);
      expect(miss, name).toEqual(uncached[name]);
    }
  });

  it("keeps a DRAFT market its owner's, cache hit or not", () => {
    expect(cached["a DRAFT market to its owner"]?.[1].status).toBe(200);
    for (const name of ["a DRAFT market to another user", "a DRAFT market to anyone"]) {
      expect(cached[name]?.[1].status, name).toBe(404);
      expect(cached[name]?.[1].body, name).toContain('"code":"NOT_FOUND"');
    }
  });
});
