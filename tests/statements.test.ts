import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMarket, createProduct } from "./support/marketplace.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { registerUser, type UserSession } from "./support/people.js";

/**
 * No N+1: a list issues the same number of SQL statements for 1 row as for 100, and placing
 * an order issues the same number for 1 line as for 10.
 */
let ts: TestServer;
let one: UserSession;
let many: UserSession;

beforeAll(async () => {
  // Data caching off: these count what reads cost the database.
  ts = await startTestServer({ CACHE_ENABLED: "false" });
  one = await registerUser(ts);
  many = await registerUser(ts);
});
afterAll(async () => {
  await ts.close();
});

async function count(fn: () => Promise<unknown>): Promise<number> {
  // Background jobs (order confirmation mails) query too: let them finish first.
  await ts.waitForIdleJobs();
  const { queries } = await ts.captureQueries(fn);
  return queries.length;
}

describe("statement counts", () => {
  it("users.byId: ten reads in one batch are one statement, each with its own answer", async () => {
    const users = await Promise.all(Array.from({ length: 10 }, () => registerUser(ts)));
    const anonymous = ts.client();
    const single = await count(async () => {
      expect((await anonymous.users.byId.query({ id: one.user.id })).id).toBe(one.user.id);
    });
    const batch = await count(async () => {
      // Made together, the SDK sends them as one HTTP batch.
      const results = await Promise.allSettled([
        ...users.map((u) => anonymous.users.byId.query({ id: u.user.id })),
        anonymous.users.byId.query({ id: "no-such-user" }),
      ]);
      expect(results.slice(0, 10).map((r) => (r.status === "fulfilled" ? r.value.username : null))).toEqual(
        users.map((u) => u.user.username),
      );
      expect(results[10]?.status).toBe("rejected");
    });
    console.log(`users.byId statements: 1 read → ${single}, 11 batched → ${batch}`);
    expect(single).toBe(1);
    expect(batch).toBe(single);
  });

  it("markets.list: 1 row and 100 rows cost the same", async () => {
    await createMarket(one.api);
    await Promise.all(Array.from({ length: 100 }, () => createMarket(many.api)));
    const viewer = ts.client({ token: one.tokens.accessToken });
    const small = await count(async () => {
      const page = await viewer.markets.list.query({ ownerId: one.user.id, limit: 100 });
      expect(page.items).toHaveLength(1);
    });
    const large = await count(async () => {
      const page = await viewer.markets.list.query({ ownerId: many.user.id, limit: 100 });
      expect(page.items).toHaveLength(100);
      expect(page.total).toBe(100);
    });
    console.log(`markets.list statements: 1 row → ${small}, 100 rows → ${large}`);
    expect(large).toBe(small);
  });

  it("posts.list: 1 row and 100 rows cost the same", async () => {
    await one.api.posts.create.mutate({ title: "t", content: "c" });
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => many.api.posts.create.mutate({ title: `t${i}`, content: "c" })),
    );
    const viewer = ts.client({ token: one.tokens.accessToken });
    const small = await count(async () => {
      expect((await viewer.posts.list.query({ authorId: one.user.id, limit: 100 })).items).toHaveLength(1);
    });
    const large = await count(async () => {
      expect((await viewer.posts.list.query({ authorId: many.user.id, limit: 100 })).items).toHaveLength(100);
    });
    console.log(`posts.list statements: 1 row → ${small}, 100 rows → ${large}`);
    expect(large).toBe(small);
  });

  it("orders.listMine: 1 order and 100 orders cost the same", async () => {
    const seller = await registerUser(ts);
    const market = await createMarket(seller.api);
    const a = await createProduct(seller.api, market.id, { stock: 1000 });
    const b = await createProduct(seller.api, market.id, { stock: 1000 });
    const items = [
      { productId: a.id, quantity: 1 },
      { productId: b.id, quantity: 1 },
    ];
    await one.api.orders.create.mutate({ marketId: market.id, items });
    for (let i = 0; i < 100; i += 10) {
      await Promise.all(
        Array.from({ length: 10 }, () => many.api.orders.create.mutate({ marketId: market.id, items })),
      );
    }
    const small = await count(async () => {
      expect((await one.api.orders.listMine.query({ limit: 100 })).items).toHaveLength(1);
    });
    const large = await count(async () => {
      const page = await many.api.orders.listMine.query({ limit: 100 });
      expect(page.items).toHaveLength(100);
      expect(page.items.every((o) => o.items.length === 2)).toBe(true);
    });
    console.log(`orders.listMine statements: 1 row → ${small}, 100 rows → ${large}`);
    expect(large).toBe(small);
  });

  it("orders.create: 1 line and 10 lines cost the same, with no per-line statement", async () => {
    const seller = await registerUser(ts);
    const market = await createMarket(seller.api);
    const products = await Promise.all(
      Array.from({ length: 10 }, () => createProduct(seller.api, market.id, { stock: 100 })),
    );
    const lines = (n: number) => products.slice(0, n).map((p) => ({ productId: p.id, quantity: 1 }));
    // Warm up: the first order of a process may prepare what later ones reuse.
    await one.api.orders.create.mutate({ marketId: market.id, items: lines(1) });
    const single = await count(() => one.api.orders.create.mutate({ marketId: market.id, items: lines(1) }));
    const ten = await count(() => one.api.orders.create.mutate({ marketId: market.id, items: lines(10) }));
    console.log(`orders.create statements: 1 item → ${single}, 10 items → ${ten}`);
    expect(ten).toBe(single);
  });
});
