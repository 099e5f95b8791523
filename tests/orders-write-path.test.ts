import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAgoraError } from "@agora/client";
import { ORDER_CONFIRMATION_QUEUE } from "../server/src/shared/job-queues.js";
import { createMarket, createProduct } from "./support/marketplace.js";
import { loginAdmin, registerUser } from "./support/people.js";
import { startTestServer, type TestServer } from "./support/server.js";

/**
 * orders.create is one call of the `place_order` function (prisma/migrations/*_place_order):
 * one statement, one round trip, with every guarantee of the interactive transaction it
 * replaced. The races need real PostgreSQL (PGlite runs one statement at a time); the shape of
 * the call and of the job it enqueues are checked on both databases.
 */
let ts: TestServer;
beforeAll(async () => {
  ts = await startTestServer({ DB_POOL_SIZE: "20" });
});
afterAll(async () => {
  await ts.close();
});

const db = () => ts.server.infra.database.pool;

/** The confirmation jobs of these orders, pending or archived, by order id. */
async function jobsOf(orderIds: readonly string[]): Promise<Map<string, number>> {
  const { rows } = await db().query<{ order_id: string; n: number }>(
    `SELECT order_id, count(*)::int AS n FROM (
       SELECT data->>'orderId' AS order_id FROM pgboss.job WHERE name = $1
       UNION ALL SELECT data->>'orderId' FROM pgboss.archive WHERE name = $1) j
     WHERE order_id = ANY($2) GROUP BY order_id`,
    [ORDER_CONFIRMATION_QUEUE, orderIds],
  );
  return new Map(rows.map((r) => [r.order_id, r.n]));
}

async function marketState(marketId: string): Promise<{ volume: number; confirmed: number; orders: number }> {
  const { rows } = await db().query<{ volume: string; confirmed: string; orders: number }>(
    `SELECT m.volume_cents::text AS volume,
            COALESCE(SUM(o.total_cents) FILTER (WHERE o.status = 'CONFIRMED'), 0)::text AS confirmed,
            count(o.id)::int AS orders
       FROM markets m LEFT JOIN orders o ON o.market_id = m.id WHERE m.id = $1 GROUP BY m.id`,
    [marketId],
  );
  const row = rows[0];
  if (!row) throw new Error(`no market ${marketId}`);
  return { volume: Number(row.volume), confirmed: Number(row.confirmed), orders: row.orders };
}

describe("the order placement's shape", () => {
  it("is one statement: no transaction of several round trips", async () => {
    const seller = await registerUser(ts);
    const buyer = await registerUser(ts);
    const market = await createMarket(seller.api);
    const product = await createProduct(seller.api, market.id, { stock: 5, priceCents: 700 });
    const { result, queries } = await ts.captureQueries(() =>
      buyer.api.orders.create.mutate({
        marketId: market.id,
        items: [{ productId: product.id, quantity: 2 }],
      }),
    );
    expect(result.totalCents).toBe(1400);
    expect(queries.filter((q) => q.includes("place_order"))).toHaveLength(1);
    // No BEGIN/COMMIT and no write of its own besides the function's.
    expect(queries.filter((q) => /^\s*(BEGIN|COMMIT|INSERT|UPDATE|DELETE)\b/i.test(q))).toEqual([]);
  });

  it("enqueues the confirmation job exactly as pg-boss's send() would", async () => {
    const seller = await registerUser(ts);
    const buyer = await registerUser(ts);
    const market = await createMarket(seller.api);
    const product = await createProduct(seller.api, market.id, { stock: 5 });
    const order = await buyer.api.orders.create.mutate({
      marketId: market.id,
      items: [{ productId: product.id, quantity: 1 }],
    });
    // pg-boss's own insert, for an order that does not exist (its job finds nothing to mail).
    const probe = `probe-${order.id}`;
    await ts.server.services.jobs.enqueue(ts.server.infra.database.prisma, ORDER_CONFIRMATION_QUEUE, {
      orderId: probe,
    });
    const columns = `priority, retry_limit, retry_delay, retry_backoff, expire_in::text AS expire_in,
      (keep_until - start_after)::text AS kept, dead_letter, policy, singleton_key, singleton_on,
      (start_after - created_on) < interval '1 second' AS starts_now`;
    const row = async (orderId: string) => {
      const { rows } = await db().query<Record<string, unknown>>(
        `SELECT ${columns} FROM pgboss.job WHERE name = $1 AND data->>'orderId' = $2
         UNION ALL SELECT ${columns} FROM pgboss.archive WHERE name = $1 AND data->>'orderId' = $2`,
        [ORDER_CONFIRMATION_QUEUE, orderId],
      );
      expect(rows).toHaveLength(1);
      return rows[0];
    };
    expect(await row(order.id)).toEqual(await row(probe));
  });
});

describe.runIf(!!process.env.DATABASE_URL)("the order placement under real concurrency (PostgreSQL)", () => {
  it("a flash sale on one product sells exactly its stock: volume and jobs match the orders", async () => {
    const seller = await registerUser(ts);
    const market = await createMarket(seller.api);
    const product = await createProduct(seller.api, market.id, { stock: 25, priceCents: 399 });
    const buyers = await Promise.all(Array.from({ length: 8 }, () => registerUser(ts)));
    const before = await marketState(market.id);

    const results = await Promise.allSettled(
      Array.from({ length: 80 }, (_, i) =>
        (buyers[i % buyers.length]?.api ?? seller.api).orders.create.mutate({
          marketId: market.id,
          items: [{ productId: product.id, quantity: 1 }],
        }),
      ),
    );
    const won = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const lost = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
    expect(won).toHaveLength(25);
    for (const error of lost) {
      expect(isAgoraError(error) && error.data?.code).toBe("CONFLICT");
    }
    expect((await seller.api.products.byId.query({ id: product.id })).stock).toBe(0);

    const after = await marketState(market.id);
    const sum = won.reduce((n, o) => n + o.totalCents, 0);
    expect(sum).toBe(25 * 399);
    expect(after.volume - before.volume).toBe(sum);
    expect(after.volume).toBe(after.confirmed);
    expect(after.orders).toBe(25);
    const jobs = await jobsOf(won.map((o) => o.id));
    expect(won.map((o) => jobs.get(o.id))).toEqual(won.map(() => 1));
  });

  it("orders, cancels, market and product updates and a close on one market never deadlock", async () => {
    const seller = await registerUser(ts);
    const admin = (await loginAdmin(ts)).api;
    const market = await createMarket(seller.api);
    const a = await createProduct(seller.api, market.id, { stock: 200, priceCents: 120 });
    const b = await createProduct(seller.api, market.id, { stock: 200, priceCents: 330 });
    const buyers = await Promise.all(Array.from({ length: 6 }, () => registerUser(ts)));
    const buyerOf = (i: number) => buyers[i % buyers.length] ?? seller;
    const line = (i: number) =>
      i % 2 === 0
        ? [
            { productId: a.id, quantity: 1 },
            { productId: b.id, quantity: 2 },
          ]
        : [
            { productId: b.id, quantity: 1 },
            { productId: a.id, quantity: 2 },
          ];
    // Orders to cancel during the race.
    const first = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        buyerOf(i).api.orders.create.mutate({ marketId: market.id, items: line(i) }),
      ),
    );

    const racing: Promise<unknown>[] = [
      ...Array.from({ length: 40 }, (_, i) =>
        buyerOf(i).api.orders.create.mutate({ marketId: market.id, items: line(i) }),
      ),
      ...first.map((o, i) => buyerOf(i).api.orders.cancel.mutate({ id: o.id })),
      ...Array.from({ length: 6 }, (_, i) =>
        seller.api.markets.update.mutate({ id: market.id, data: { name: `Renamed ${String(i)}` } }),
      ),
      ...Array.from({ length: 6 }, (_, i) =>
        seller.api.products.update.mutate({ id: i % 2 === 0 ? a.id : b.id, data: { priceCents: 100 + i } }),
      ),
    ];
    const closing = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return admin.markets.update.mutate({ id: market.id, data: { status: "CLOSED" } });
    })();
    const results = await Promise.allSettled([...racing, closing]);
    // Only refusals for a closed market may fail; a deadlock would surface as an internal error.
    for (const r of results) {
      if (r.status === "rejected") {
        expect(isAgoraError(r.reason) && r.reason.data?.code, String(r.reason)).toBe("CONFLICT");
      }
    }
    expect(results.at(-1)?.status).toBe("fulfilled");

    const { rows } = await db().query<{ product_id: string; stock: number; sold: number }>(
      `SELECT p.id AS product_id, p.stock,
              COALESCE(SUM(i.quantity) FILTER (WHERE o.status = 'CONFIRMED'), 0)::int AS sold
         FROM products p LEFT JOIN order_items i ON i.product_id = p.id LEFT JOIN orders o ON o.id = i.order_id
        WHERE p.market_id = $1 GROUP BY p.id`,
      [market.id],
    );
    for (const r of rows) expect(r.stock + r.sold).toBe(200);
    const state = await marketState(market.id);
    expect(state.volume).toBe(state.confirmed);
  });

  it("one idempotency key racing into two markets yields one order, one stock take, one job", async () => {
    const seller = await registerUser(ts);
    const buyer = await registerUser(ts);
    const [m1, m2] = await Promise.all([createMarket(seller.api), createMarket(seller.api)]);
    const [p1, p2] = await Promise.all([
      createProduct(seller.api, m1.id, { stock: 50, priceCents: 10 }),
      createProduct(seller.api, m2.id, { stock: 50, priceCents: 10 }),
    ]);
    const orders = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        ts.client({ token: buyer.tokens.accessToken }).orders.create.mutate({
          marketId: i % 2 === 0 ? m1.id : m2.id,
          items: [{ productId: i % 2 === 0 ? p1.id : p2.id, quantity: 2 }],
          idempotencyKey: "one-key",
        }),
      ),
    );
    const ids = new Set(orders.map((o) => o.id));
    expect(ids.size).toBe(1);
    const [order] = orders;
    if (!order) throw new Error("no order");
    const stocks = await Promise.all([p1, p2].map((p) => seller.api.products.byId.query({ id: p.id })));
    expect(stocks.map((p) => p.stock).sort()).toEqual([48, 50]);
    const volumes = await Promise.all([m1, m2].map((m) => marketState(m.id)));
    expect(volumes.map((v) => v.volume).sort((x, y) => x - y)).toEqual([0, 20]);
    expect((await jobsOf([order.id])).get(order.id)).toBe(1);
  });
});
