import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAgoraError } from "@agora/client";
import { createMarket, createProduct } from "./support/marketplace.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { loginAdmin, registerUser } from "./support/people.js";

// Row locks and races need real PostgreSQL: PGlite runs one statement at a time.
describe.runIf(!!process.env.DATABASE_URL)("orders under real concurrency (PostgreSQL)", () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({ DB_POOL_SIZE: "20" });
  });
  afterAll(async () => {
    await ts.close();
  });

  async function sumOfConfirmed(marketId: string): Promise<number> {
    const admin = (await loginAdmin(ts)).api;
    let total = 0;
    let cursor: string | undefined;
    do {
      const page = await admin.orders.listForMarket.query({ marketId, limit: 100, cursor });
      for (const o of page.items) if (o.status === "CONFIRMED") total += o.totalCents;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return total;
  }

  it("50 parallel buyers racing for stock 10 sell exactly 10 units", async () => {
    const seller = await registerUser(ts);
    const market = await createMarket(seller.api);
    const product = await createProduct(seller.api, market.id, { stock: 10, priceCents: 1234 });
    const buyers = await Promise.all(Array.from({ length: 50 }, () => registerUser(ts)));

    const results = await Promise.allSettled(
      buyers.map((b) =>
        b.api.orders.create.mutate({ marketId: market.id, items: [{ productId: product.id, quantity: 1 }] }),
      ),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
    expect(won).toHaveLength(10);
    expect(lost).toHaveLength(40);
    for (const error of lost) expect(isAgoraError(error) && error.data?.code).toBe("CONFLICT");

    expect((await seller.api.products.byId.query({ id: product.id })).stock).toBe(0);
    const volume = (await seller.api.markets.byId.query({ id: market.id })).volumeCents;
    expect(volume).toBe(10 * 1234);
    expect(volume).toBe(await sumOfConfirmed(market.id));
  });

  it("multi-line orders and cancels racing keep stock and volume consistent", async () => {
    const seller = await registerUser(ts);
    const market = await createMarket(seller.api);
    const a = await createProduct(seller.api, market.id, { stock: 15, priceCents: 100 });
    const b = await createProduct(seller.api, market.id, { stock: 15, priceCents: 250 });
    const buyers = await Promise.all(Array.from({ length: 30 }, () => registerUser(ts)));

    // Lines in both orders of products, so a naive lock order would deadlock.
    const results = await Promise.allSettled(
      buyers.map((buyer, i) =>
        buyer.api.orders.create.mutate({
          marketId: market.id,
          items:
            i % 2 === 0
              ? [
                  { productId: a.id, quantity: 1 },
                  { productId: b.id, quantity: 2 },
                ]
              : [
                  { productId: b.id, quantity: 1 },
                  { productId: a.id, quantity: 2 },
                ],
        }),
      ),
    );
    const placed = results.flatMap((r, i) => (r.status === "fulfilled" ? [{ order: r.value, i }] : []));
    for (const r of results) {
      if (r.status === "rejected") expect(isAgoraError(r.reason) && r.reason.data?.code).toBe("CONFLICT");
    }
    expect(placed.length).toBeGreaterThan(0);

    // Cancel half of them, each twice at once: exactly one of each pair wins.
    const toCancel = placed.filter((_, k) => k % 2 === 0);
    const cancels = await Promise.allSettled(
      toCancel.flatMap(({ order, i }) => {
        const api = buyers[i]?.api;
        return api
          ? [api.orders.cancel.mutate({ id: order.id }), api.orders.cancel.mutate({ id: order.id })]
          : [];
      }),
    );
    expect(cancels.filter((c) => c.status === "fulfilled")).toHaveLength(toCancel.length);

    const live = placed.filter((_, k) => k % 2 !== 0).map((p) => p.order);
    const soldOf = (id: string) =>
      live.reduce(
        (n, o) => n + o.items.filter((l) => l.productId === id).reduce((m, l) => m + l.quantity, 0),
        0,
      );
    const stockA = (await seller.api.products.byId.query({ id: a.id })).stock;
    const stockB = (await seller.api.products.byId.query({ id: b.id })).stock;
    expect(stockA).toBeGreaterThanOrEqual(0);
    expect(stockB).toBeGreaterThanOrEqual(0);
    expect(stockA).toBe(15 - soldOf(a.id));
    expect(stockB).toBe(15 - soldOf(b.id));
    const volume = (await seller.api.markets.byId.query({ id: market.id })).volumeCents;
    expect(volume).toBe(live.reduce((n, o) => n + o.totalCents, 0));
    expect(volume).toBe(await sumOfConfirmed(market.id));
  });

  it("the same idempotencyKey racing from one user yields one order", async () => {
    const seller = await registerUser(ts);
    const buyer = await registerUser(ts);
    const market = await createMarket(seller.api);
    const product = await createProduct(seller.api, market.id, { stock: 100, priceCents: 10 });
    const orders = await Promise.all(
      Array.from({ length: 20 }, () =>
        ts.client({ token: buyer.tokens.accessToken }).orders.create.mutate({
          marketId: market.id,
          items: [{ productId: product.id, quantity: 3 }],
          idempotencyKey: "same-key",
        }),
      ),
    );
    expect(new Set(orders.map((o) => o.id)).size).toBe(1);
    expect((await seller.api.products.byId.query({ id: product.id })).stock).toBe(97);
    expect((await seller.api.markets.byId.query({ id: market.id })).volumeCents).toBe(30);
  });

  it("closing a market while orders race never lets an order in after the close", async () => {
    const seller = await registerUser(ts);
    const market = await createMarket(seller.api);
    const product = await createProduct(seller.api, market.id, { stock: 1000, priceCents: 5 });
    const buyers = await Promise.all(Array.from({ length: 20 }, () => registerUser(ts)));
    const racing = Promise.allSettled(
      buyers.map((b) =>
        b.api.orders.create.mutate({ marketId: market.id, items: [{ productId: product.id, quantity: 1 }] }),
      ),
    );
    const closed = await seller.api.markets.update.mutate({ id: market.id, data: { status: "CLOSED" } });
    const results = await racing;
    for (const r of results) {
      if (r.status === "rejected") expect(isAgoraError(r.reason) && r.reason.data?.code).toBe("CONFLICT");
    }
    const won = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    for (const o of won) expect(o.createdAt.getTime()).toBeLessThanOrEqual(closed.updatedAt.getTime());
    expect((await seller.api.products.byId.query({ id: product.id })).stock).toBe(1000 - won.length);
    expect((await seller.api.markets.byId.query({ id: market.id })).volumeCents).toBe(won.length * 5);
  });
});
