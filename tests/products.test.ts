import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgoraClient } from "@agora/client";
import { expectError, expectFieldErrors } from "./support/errors.js";
import { createMarket, createProduct } from "./support/marketplace.js";
import { type TestServer } from "./support/server.js";
import { startCast, type UserSession } from "./support/people.js";

let ts: TestServer;
let owner: UserSession;
let other: UserSession;
let admin: AgoraClient;
let anon: AgoraClient;

beforeAll(async () => {
  ({
    ts,
    admin,
    anon,
    users: [owner, other],
  } = await startCast());
});
afterAll(async () => {
  await ts.close();
});

describe("products", () => {
  it("creates, reads, updates only given fields and deletes", async () => {
    const market = await createMarket(owner.api);
    const product = await owner.api.products.create.mutate({
      marketId: market.id,
      name: "Cheese",
      description: "Aged",
      priceCents: 1299,
      stock: 7,
    });
    expect(product).toMatchObject({
      marketId: market.id,
      name: "Cheese",
      description: "Aged",
      priceCents: 1299,
      stock: 7,
    });
    expect(await anon.products.byId.query({ id: product.id })).toEqual(product);
    const updated = await owner.api.products.update.mutate({ id: product.id, data: { priceCents: 999 } });
    expect(updated).toMatchObject({ name: "Cheese", description: "Aged", priceCents: 999, stock: 7 });
    const restocked = await admin.products.update.mutate({
      id: product.id,
      data: { stock: 0, description: null },
    });
    expect(restocked).toMatchObject({ stock: 0, description: null, priceCents: 999 });
    expect(await owner.api.products.delete.mutate({ id: product.id })).toEqual({ success: true });
    await expectError(anon.products.byId.query({ id: product.id }), "NOT_FOUND");
  });

  it("validates price and stock bounds", async () => {
    const market = await createMarket(owner.api);
    const base = { marketId: market.id, name: "x", priceCents: 1, stock: 1 };
    await expectFieldErrors(owner.api.products.create.mutate({ ...base, priceCents: -1 }), ["priceCents"]);
    await expectFieldErrors(owner.api.products.create.mutate({ ...base, priceCents: 1.5 }), ["priceCents"]);
    await expectFieldErrors(owner.api.products.create.mutate({ ...base, priceCents: 1e9 + 1 }), [
      "priceCents",
    ]);
    await expectFieldErrors(owner.api.products.create.mutate({ ...base, stock: -1 }), ["stock"]);
    await expectFieldErrors(owner.api.products.create.mutate({ ...base, stock: 1e6 + 1 }), ["stock"]);
    await expectFieldErrors(owner.api.products.create.mutate({ ...base, name: "" }), ["name"]);
    const ok = await owner.api.products.create.mutate({ ...base, priceCents: 1e9, stock: 1e6 });
    expect(ok).toMatchObject({ priceCents: 1e9, stock: 1e6 });
    await expectFieldErrors(owner.api.products.update.mutate({ id: ok.id, data: { stock: -5 } }), [
      "data.stock",
    ]);
  });

  it("lets only the market owner or an admin write (FORBIDDEN for others who can see it)", async () => {
    const market = await createMarket(owner.api);
    const product = await createProduct(owner.api, market.id);
    await expectError(
      other.api.products.create.mutate({ marketId: market.id, name: "x", priceCents: 1, stock: 1 }),
      "FORBIDDEN",
    );
    await expectError(other.api.products.update.mutate({ id: product.id, data: { stock: 0 } }), "FORBIDDEN");
    await expectError(other.api.products.delete.mutate({ id: product.id }), "FORBIDDEN");
    await expectError(anon.products.delete.mutate({ id: product.id }), "UNAUTHORIZED");
    expect((await anon.products.byId.query({ id: product.id })).stock).toBe(10);
    const byAdmin = await admin.products.create.mutate({
      marketId: market.id,
      name: "adm",
      priceCents: 5,
      stock: 5,
    });
    expect(byAdmin.marketId).toBe(market.id);
  });

  it("hides the products of a DRAFT market like the market itself", async () => {
    const draft = await createMarket(owner.api, { status: "DRAFT" });
    const product = await createProduct(owner.api, draft.id);
    await expectError(anon.products.byId.query({ id: product.id }), "NOT_FOUND");
    await expectError(other.api.products.list.query({ marketId: draft.id }), "NOT_FOUND");
    await expectError(other.api.products.update.mutate({ id: product.id, data: { stock: 1 } }), "NOT_FOUND");
    await expectError(
      other.api.products.create.mutate({ marketId: draft.id, name: "x", priceCents: 1, stock: 1 }),
      "NOT_FOUND",
    );
    expect((await owner.api.products.list.query({ marketId: draft.id })).items.map((p) => p.id)).toEqual([
      product.id,
    ]);
    expect((await admin.products.byId.query({ id: product.id })).id).toBe(product.id);
  });

  it("lists a market's products newest first with a stable keyset cursor", async () => {
    const market = await createMarket(owner.api);
    const elsewhere = await createMarket(owner.api);
    await createProduct(owner.api, elsewhere.id);
    const created: string[] = [];
    for (let i = 0; i < 5; i += 1) created.push((await createProduct(owner.api, market.id)).id);
    const newestFirst = [...created].reverse();

    const first = await anon.products.list.query({ marketId: market.id, limit: 2 });
    expect(first.items.map((p) => p.id)).toEqual(newestFirst.slice(0, 2));
    await createProduct(owner.api, market.id);
    const seen = [...first.items.map((p) => p.id)];
    let cursor = first.nextCursor ?? undefined;
    while (cursor) {
      const page = await anon.products.list.query({ marketId: market.id, limit: 2, cursor });
      seen.push(...page.items.map((p) => p.id));
      cursor = page.nextCursor ?? undefined;
    }
    expect(seen).toEqual(newestFirst);
    await expectError(anon.products.list.query({ marketId: "missing" }), "NOT_FOUND");
  });

  it("refuses to delete a product that was ordered (CONFLICT)", async () => {
    const market = await createMarket(owner.api);
    const product = await createProduct(owner.api, market.id);
    await other.api.orders.create.mutate({
      marketId: market.id,
      items: [{ productId: product.id, quantity: 1 }],
    });
    await expectError(owner.api.products.delete.mutate({ id: product.id }), "CONFLICT");
    expect((await anon.products.byId.query({ id: product.id })).stock).toBe(9);
  });
});
