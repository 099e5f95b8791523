import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgoraClient } from "@agora/client";
import { expectError, expectFieldErrors } from "./support/errors.js";
import { createMarket, createProduct } from "./support/marketplace.js";
import { type TestServer } from "./support/server.js";
import { registerUser, startCast, type UserSession } from "./support/people.js";

let ts: TestServer;
let seller: UserSession;
let buyer: UserSession;
let stranger: UserSession;
let admin: AgoraClient;
let anon: AgoraClient;

beforeAll(async () => {
  ({
    ts,
    admin,
    anon,
    users: [seller, buyer, stranger],
  } = await startCast());
});
afterAll(async () => {
  await ts.close();
});

async function stockOf(id: string): Promise<number> {
  return (await anon.products.byId.query({ id })).stock;
}
async function volumeOf(id: string): Promise<number> {
  return (await admin.markets.byId.query({ id })).volumeCents;
}

describe("orders.create", () => {
  it("takes stock, captures prices, totals the lines and adds to the market volume", async () => {
    const market = await createMarket(seller.api);
    const tea = await createProduct(seller.api, market.id, { priceCents: 350, stock: 10 });
    const cake = await createProduct(seller.api, market.id, { priceCents: 1200, stock: 3 });
    const order = await buyer.api.orders.create.mutate({
      marketId: market.id,
      items: [
        { productId: tea.id, quantity: 4 },
        { productId: cake.id, quantity: 3 },
      ],
    });
    expect(order).toMatchObject({
      marketId: market.id,
      userId: buyer.user.id,
      status: "CONFIRMED",
      totalCents: 4 * 350 + 3 * 1200,
    });
    expect(order.createdAt).toBeInstanceOf(Date);
    expect(order.items).toHaveLength(2);
    expect(order.items).toEqual(
      expect.arrayContaining([
        { productId: tea.id, quantity: 4, unitPriceCents: 350 },
        { productId: cake.id, quantity: 3, unitPriceCents: 1200 },
      ]),
    );
    expect(await stockOf(tea.id)).toBe(6);
    expect(await stockOf(cake.id)).toBe(0);
    expect(await volumeOf(market.id)).toBe(5000);

    // Later price changes do not touch placed orders.
    await seller.api.products.update.mutate({ id: tea.id, data: { priceCents: 999 } });
    const again = await buyer.api.orders.byId.query({ id: order.id });
    expect(again.items.find((i) => i.productId === tea.id)?.unitPriceCents).toBe(350);
    expect(again.totalCents).toBe(5000);
  });

  it("is all-or-nothing: a short line fails the order with CONFLICT naming the product", async () => {
    const market = await createMarket(seller.api);
    const plenty = await createProduct(seller.api, market.id, { stock: 50, priceCents: 100 });
    const scarce = await createProduct(seller.api, market.id, {
      stock: 2,
      priceCents: 100,
      name: "Scarce thing",
    });
    const error = await expectError(
      buyer.api.orders.create.mutate({
        marketId: market.id,
        items: [
          { productId: plenty.id, quantity: 5 },
          { productId: scarce.id, quantity: 3 },
        ],
      }),
      "CONFLICT",
    );
    expect(error.message).toContain(scarce.id);
    expect(error.message).toContain("Scarce thing");
    // The short line as data, typed in the SDK, so a UI can mark it without parsing the message.
    expect(error.data?.stock).toEqual({ productId: scarce.id, available: 2, requested: 3 });
    expect(await stockOf(plenty.id)).toBe(50);
    expect(await stockOf(scarce.id)).toBe(2);
    expect(await volumeOf(market.id)).toBe(0);
    expect((await seller.api.orders.listForMarket.query({ marketId: market.id })).items).toEqual([]);
    // Exactly the remaining stock is fine.
    await buyer.api.orders.create.mutate({
      marketId: market.id,
      items: [{ productId: scarce.id, quantity: 2 }],
    });
    expect(await stockOf(scarce.id)).toBe(0);
  });

  it("refuses products of another market (BAD_REQUEST) without changing anything", async () => {
    const market = await createMarket(seller.api);
    const elsewhere = await createMarket(seller.api);
    const here = await createProduct(seller.api, market.id, { stock: 5 });
    const there = await createProduct(seller.api, elsewhere.id, { stock: 5 });
    await expectFieldErrors(
      buyer.api.orders.create.mutate({
        marketId: market.id,
        items: [
          { productId: here.id, quantity: 1 },
          { productId: there.id, quantity: 1 },
        ],
      }),
      ["items.1.productId"],
    );
    await expectFieldErrors(
      buyer.api.orders.create.mutate({ marketId: market.id, items: [{ productId: "missing", quantity: 1 }] }),
      ["items.0.productId"],
    );
    expect(await stockOf(here.id)).toBe(5);
    expect(await stockOf(there.id)).toBe(5);
  });

  it("refuses duplicate product lines and out-of-range items", async () => {
    const market = await createMarket(seller.api);
    const p = await createProduct(seller.api, market.id, { stock: 5000 });
    await expectFieldErrors(
      buyer.api.orders.create.mutate({
        marketId: market.id,
        items: [
          { productId: p.id, quantity: 1 },
          { productId: p.id, quantity: 1 },
        ],
      }),
      ["items.1.productId"],
    );
    await expectFieldErrors(buyer.api.orders.create.mutate({ marketId: market.id, items: [] }), ["items"]);
    await expectFieldErrors(
      buyer.api.orders.create.mutate({ marketId: market.id, items: [{ productId: p.id, quantity: 0 }] }),
      ["items.0.quantity"],
    );
    await expectFieldErrors(
      buyer.api.orders.create.mutate({ marketId: market.id, items: [{ productId: p.id, quantity: 1001 }] }),
      ["items.0.quantity"],
    );
    const tooMany = Array.from({ length: 51 }, (_, i) => ({ productId: `p${i}`, quantity: 1 }));
    await expectFieldErrors(buyer.api.orders.create.mutate({ marketId: market.id, items: tooMany }), [
      "items",
    ]);
    expect(await stockOf(p.id)).toBe(5000);
  });

  it("needs an ACTIVE market: DRAFT and CLOSED are CONFLICT for the owner, hidden DRAFT is NOT_FOUND", async () => {
    const draft = await createMarket(seller.api, { status: "DRAFT" });
    const p = await createProduct(seller.api, draft.id);
    const line = { marketId: draft.id, items: [{ productId: p.id, quantity: 1 }] };
    await expectError(seller.api.orders.create.mutate(line), "CONFLICT");
    await expectError(buyer.api.orders.create.mutate(line), "NOT_FOUND");
    await seller.api.markets.update.mutate({ id: draft.id, data: { status: "ACTIVE" } });
    await buyer.api.orders.create.mutate(line);
    await seller.api.markets.update.mutate({ id: draft.id, data: { status: "CLOSED" } });
    await expectError(buyer.api.orders.create.mutate(line), "CONFLICT");
    expect(await stockOf(p.id)).toBe(9);
    await expectError(anon.orders.create.mutate(line), "UNAUTHORIZED");
  });

  it("honours idempotencyKey per user, also when requests race", async () => {
    const market = await createMarket(seller.api);
    const p = await createProduct(seller.api, market.id, { stock: 100, priceCents: 10 });
    const input = { marketId: market.id, items: [{ productId: p.id, quantity: 2 }], idempotencyKey: "k-1" };
    const first = await buyer.api.orders.create.mutate(input);
    const second = await buyer.api.orders.create.mutate(input);
    expect(second).toEqual(first);
    expect(await stockOf(p.id)).toBe(98);
    // Another user's identical key is theirs alone.
    const theirs = await stranger.api.orders.create.mutate(input);
    expect(theirs.id).not.toBe(first.id);
    expect(await stockOf(p.id)).toBe(96);

    const raced = await Promise.all(
      Array.from({ length: 8 }, () =>
        ts
          .client({ token: buyer.tokens.accessToken })
          .orders.create.mutate({ ...input, idempotencyKey: "race" }),
      ),
    );
    expect(new Set(raced.map((o) => o.id)).size).toBe(1);
    expect(await stockOf(p.id)).toBe(94);
    expect(await volumeOf(market.id)).toBe(3 * 20);
  });
});

describe("orders.byId / listMine / listForMarket", () => {
  it("shows an order to its buyer, the market owner and admins only", async () => {
    const market = await createMarket(seller.api);
    const p = await createProduct(seller.api, market.id);
    const order = await buyer.api.orders.create.mutate({
      marketId: market.id,
      items: [{ productId: p.id, quantity: 1 }],
    });
    expect((await buyer.api.orders.byId.query({ id: order.id })).id).toBe(order.id);
    expect((await seller.api.orders.byId.query({ id: order.id })).id).toBe(order.id);
    expect((await admin.orders.byId.query({ id: order.id })).id).toBe(order.id);
    await expectError(stranger.api.orders.byId.query({ id: order.id }), "NOT_FOUND");
    await expectError(anon.orders.byId.query({ id: order.id }), "UNAUTHORIZED");
    await expectError(buyer.api.orders.byId.query({ id: "missing" }), "NOT_FOUND");
  });

  it("lists my orders newest first with a keyset cursor", async () => {
    const me = await registerUser(ts);
    const market = await createMarket(seller.api);
    const p = await createProduct(seller.api, market.id, { stock: 100 });
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      ids.push(
        (
          await me.api.orders.create.mutate({
            marketId: market.id,
            items: [{ productId: p.id, quantity: 1 }],
          })
        ).id,
      );
    }
    await buyer.api.orders.create.mutate({ marketId: market.id, items: [{ productId: p.id, quantity: 1 }] });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await me.api.orders.listMine.query({ limit: 2, cursor });
      expect(page.items.every((o) => o.userId === me.user.id)).toBe(true);
      seen.push(...page.items.map((o) => o.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
  });

  it("lists a market's orders for its owner and admins (FORBIDDEN for others)", async () => {
    const market = await createMarket(seller.api);
    const p = await createProduct(seller.api, market.id);
    const a = await buyer.api.orders.create.mutate({
      marketId: market.id,
      items: [{ productId: p.id, quantity: 1 }],
    });
    const b = await stranger.api.orders.create.mutate({
      marketId: market.id,
      items: [{ productId: p.id, quantity: 2 }],
    });
    const page = await seller.api.orders.listForMarket.query({ marketId: market.id });
    expect(page.items.map((o) => o.id)).toEqual([b.id, a.id]);
    expect((await admin.orders.listForMarket.query({ marketId: market.id })).items).toHaveLength(2);
    await expectError(buyer.api.orders.listForMarket.query({ marketId: market.id }), "FORBIDDEN");
    const draft = await createMarket(seller.api, { status: "DRAFT" });
    await expectError(buyer.api.orders.listForMarket.query({ marketId: draft.id }), "NOT_FOUND");
  });
});

describe("orders.cancel", () => {
  it("restocks and lowers the volume exactly once; cancelling twice is CONFLICT", async () => {
    const market = await createMarket(seller.api);
    const p = await createProduct(seller.api, market.id, { stock: 10, priceCents: 300 });
    const q = await createProduct(seller.api, market.id, { stock: 10, priceCents: 50 });
    const keep = await buyer.api.orders.create.mutate({
      marketId: market.id,
      items: [{ productId: p.id, quantity: 1 }],
    });
    const order = await buyer.api.orders.create.mutate({
      marketId: market.id,
      items: [
        { productId: p.id, quantity: 3 },
        { productId: q.id, quantity: 4 },
      ],
    });
    expect(await volumeOf(market.id)).toBe(300 + 900 + 200);
    const cancelled = await buyer.api.orders.cancel.mutate({ id: order.id });
    expect(cancelled).toMatchObject({ id: order.id, status: "CANCELLED", totalCents: 1100 });
    expect(await stockOf(p.id)).toBe(9);
    expect(await stockOf(q.id)).toBe(10);
    expect(await volumeOf(market.id)).toBe(keep.totalCents);
    await expectError(buyer.api.orders.cancel.mutate({ id: order.id }), "CONFLICT");
    await expectError(admin.orders.cancel.mutate({ id: order.id }), "CONFLICT");
    expect(await stockOf(p.id)).toBe(9);
    expect(await volumeOf(market.id)).toBe(keep.totalCents);
    expect((await buyer.api.orders.byId.query({ id: order.id })).status).toBe("CANCELLED");
  });

  it("lets the buyer or an admin cancel: FORBIDDEN for the market owner, NOT_FOUND for others", async () => {
    const market = await createMarket(seller.api);
    const p = await createProduct(seller.api, market.id, { stock: 10 });
    const order = await buyer.api.orders.create.mutate({
      marketId: market.id,
      items: [{ productId: p.id, quantity: 2 }],
    });
    await expectError(seller.api.orders.cancel.mutate({ id: order.id }), "FORBIDDEN");
    await expectError(stranger.api.orders.cancel.mutate({ id: order.id }), "NOT_FOUND");
    await expectError(anon.orders.cancel.mutate({ id: order.id }), "UNAUTHORIZED");
    expect(await stockOf(p.id)).toBe(8);
    expect((await admin.orders.cancel.mutate({ id: order.id })).status).toBe("CANCELLED");
    expect(await stockOf(p.id)).toBe(10);
  });

  it("handles racing cancels of one order exactly once", async () => {
    const market = await createMarket(seller.api);
    const p = await createProduct(seller.api, market.id, { stock: 10, priceCents: 100 });
    const order = await buyer.api.orders.create.mutate({
      marketId: market.id,
      items: [{ productId: p.id, quantity: 4 }],
    });
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () =>
        ts.client({ token: buyer.tokens.accessToken }).orders.cancel.mutate({ id: order.id }),
      ),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(await stockOf(p.id)).toBe(10);
    expect(await volumeOf(market.id)).toBe(0);
  });
});
