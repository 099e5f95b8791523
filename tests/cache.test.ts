import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError } from "./support/errors.js";
import { createMarket, createProduct } from "./support/marketplace.js";
import { startTestServer } from "./support/server.js";
import { registerUser, startCast, type Cast } from "./support/people.js";

/**
 * Hot reads are cached (in process, or in Redis when REDIS_URL is set: this file runs in both
 * modes). What matters: a hit costs no SQL, and every write is visible on the very next read,
 * with visibility rules applied per caller after the cache.
 */
let cast: Cast;

beforeAll(async () => {
  cast = await startCast();
});
afterAll(async () => {
  await cast.ts.close();
});

async function statementsOf(fn: () => Promise<unknown>): Promise<string[]> {
  return (await cast.ts.captureQueries(fn)).queries;
}

describe("cached reads", () => {
  it("serves a repeated markets.byId, products.byId/list and users.byId without SQL", async () => {
    const [seller] = cast.users;
    const market = await createMarket(seller.api);
    const product = await createProduct(seller.api, market.id);
    const { anon } = cast;
    const reads = async () => {
      await anon.markets.byId.query({ id: market.id });
      await anon.products.byId.query({ id: product.id });
      await anon.products.list.query({ marketId: market.id });
      await anon.users.byId.query({ id: seller.user.id });
      await anon.markets.list.query({ status: "ACTIVE" });
    };
    await reads();
    expect(await statementsOf(reads)).toEqual([]);
  });

  it("checks a live session without SQL, and users.me then costs nothing either", async () => {
    const alice = await registerUser(cast.ts);
    await alice.api.users.me.query();
    expect(await statementsOf(() => alice.api.users.me.query())).toEqual([]);
  });

  it("shows a market update, an order and a cancel on the very next read", async () => {
    const [seller, buyer] = cast.users;
    const market = await createMarket(seller.api, { name: "Before" });
    const product = await createProduct(seller.api, market.id, { stock: 10, priceCents: 250 });
    const { anon } = cast;
    const firstPage = () => anon.markets.list.query({ status: "ACTIVE", sort: "volume", limit: 100 });
    // Fill every cache involved.
    expect((await anon.markets.byId.query({ id: market.id })).volumeCents).toBe(0);
    expect((await anon.products.byId.query({ id: product.id })).stock).toBe(10);
    expect((await anon.products.list.query({ marketId: market.id })).items[0]?.stock).toBe(10);
    expect((await firstPage()).items.find((m) => m.id === market.id)?.volumeCents).toBe(0);

    await seller.api.markets.update.mutate({ id: market.id, data: { name: "After" } });
    expect((await anon.markets.byId.query({ id: market.id })).name).toBe("After");
    expect((await firstPage()).items.find((m) => m.id === market.id)?.name).toBe("After");

    const order = await buyer.api.orders.create.mutate({
      marketId: market.id,
      items: [{ productId: product.id, quantity: 3 }],
    });
    expect((await anon.markets.byId.query({ id: market.id })).volumeCents).toBe(750);
    expect((await anon.products.byId.query({ id: product.id })).stock).toBe(7);
    expect((await anon.products.list.query({ marketId: market.id })).items[0]?.stock).toBe(7);
    expect((await firstPage()).items.find((m) => m.id === market.id)?.volumeCents).toBe(750);

    await buyer.api.orders.cancel.mutate({ id: order.id });
    expect((await anon.markets.byId.query({ id: market.id })).volumeCents).toBe(0);
    expect((await anon.products.byId.query({ id: product.id })).stock).toBe(10);
    expect((await firstPage()).items.find((m) => m.id === market.id)?.volumeCents).toBe(0);
  });

  it("shows product writes and new markets on the very next read", async () => {
    const [seller] = cast.users;
    const market = await createMarket(seller.api);
    const product = await createProduct(seller.api, market.id, { name: "Old name" });
    const { anon } = cast;
    await anon.products.byId.query({ id: product.id });
    await anon.products.list.query({ marketId: market.id });
    const before = await anon.markets.list.query({ status: "ACTIVE", limit: 5 });

    await seller.api.products.update.mutate({ id: product.id, data: { name: "New name", priceCents: 999 } });
    expect(await anon.products.byId.query({ id: product.id })).toMatchObject({
      name: "New name",
      priceCents: 999,
    });
    const added = await createProduct(seller.api, market.id);
    expect((await anon.products.list.query({ marketId: market.id })).items.map((p) => p.id)).toContain(
      added.id,
    );
    await seller.api.products.delete.mutate({ id: added.id });
    await expectError(anon.products.byId.query({ id: added.id }), "NOT_FOUND");
    expect((await anon.products.list.query({ marketId: market.id })).items.map((p) => p.id)).not.toContain(
      added.id,
    );

    const newest = await createMarket(seller.api);
    const after = await anon.markets.list.query({ status: "ACTIVE", limit: 5 });
    expect(after.items[0]?.id).toBe(newest.id);
    expect(after.total).toBe(before.total + 1);

    await seller.api.markets.delete.mutate({ id: newest.id });
    await expectError(anon.markets.byId.query({ id: newest.id }), "NOT_FOUND");
    expect((await anon.markets.list.query({ status: "ACTIVE", limit: 5 })).total).toBe(before.total);
  });

  it("shows profile and username changes on the very next read, in markets too", async () => {
    const alice = await registerUser(cast.ts);
    const market = await createMarket(alice.api);
    const { anon } = cast;
    await anon.users.byId.query({ id: alice.user.id });
    await anon.markets.byId.query({ id: market.id });
    await alice.api.users.me.query();

    const username = `renamed_${Date.now().toString(36)}`;
    await alice.api.users.updateMe.mutate({ name: "Alice Renamed", username });
    expect(await anon.users.byId.query({ id: alice.user.id })).toMatchObject({
      name: "Alice Renamed",
      username,
    });
    expect((await alice.api.users.me.query()).username).toBe(username);
    expect((await anon.markets.byId.query({ id: market.id })).owner.username).toBe(username);
  });
});

describe("visibility survives caching", () => {
  it("never serves a cached DRAFT market or its products to someone who may not see it", async () => {
    const [owner, other] = cast.users;
    const draft = await createMarket(owner.api, { status: "DRAFT" });
    const product = await createProduct(owner.api, draft.id);
    // The owner and an admin fill the caches...
    expect((await owner.api.markets.byId.query({ id: draft.id })).status).toBe("DRAFT");
    expect((await owner.api.products.byId.query({ id: product.id })).id).toBe(product.id);
    await owner.api.products.list.query({ marketId: draft.id });
    await cast.admin.markets.byId.query({ id: draft.id });
    const ownerList = await owner.api.markets.list.query({ limit: 100 });
    expect(ownerList.items.map((m) => m.id)).toContain(draft.id);
    expect((await cast.admin.markets.list.query({ limit: 100 })).items.map((m) => m.id)).toContain(draft.id);

    // ...and nobody else gets them out.
    for (const client of [other.api, cast.anon]) {
      await expectError(client.markets.byId.query({ id: draft.id }), "NOT_FOUND");
      await expectError(client.products.byId.query({ id: product.id }), "NOT_FOUND");
      await expectError(client.products.list.query({ marketId: draft.id }), "NOT_FOUND");
      expect((await client.markets.list.query({ limit: 100 })).items.map((m) => m.id)).not.toContain(
        draft.id,
      );
      expect((await client.markets.list.query({ status: "DRAFT", limit: 100 })).items).toEqual([]);
    }

    // Once it goes live, everyone sees it on the next read.
    await owner.api.markets.update.mutate({ id: draft.id, data: { status: "ACTIVE" } });
    expect((await other.api.markets.byId.query({ id: draft.id })).status).toBe("ACTIVE");
    expect((await cast.anon.products.byId.query({ id: product.id })).id).toBe(product.id);
    expect((await cast.anon.markets.list.query({ limit: 100 })).items.map((m) => m.id)).toContain(draft.id);
  });
});

describe("session checks from the cache stay immediate", () => {
  it("refuses an access token at once after logout, logoutAll, a password change and a reset", async () => {
    const alice = await registerUser(cast.ts);
    await alice.api.users.me.query(); // cached as live
    await alice.api.auth.logout.mutate({ refreshToken: alice.tokens.refreshToken });
    await expectError(alice.api.users.me.query(), "UNAUTHORIZED");

    const bob = await registerUser(cast.ts);
    const second = await cast.ts
      .client()
      .auth.login.mutate({ email: bob.input.email, password: bob.input.password });
    const bobElsewhere = cast.ts.client({ token: second.tokens.accessToken });
    await bobElsewhere.users.me.query();
    await bob.api.auth.changePassword.mutate({
      currentPassword: bob.input.password,
      newPassword: "Changed1Pass",
    });
    await expectError(bobElsewhere.users.me.query(), "UNAUTHORIZED");
    await bob.api.users.me.query(); // the session that changed it lives on

    await bob.api.auth.logoutAll.mutate();
    await expectError(bob.api.users.me.query(), "UNAUTHORIZED");
  });

  it("applies a role change to the next call, and a deleted user's tokens stop at once", async () => {
    const carol = await registerUser(cast.ts);
    await cast.admin.users.setRole.mutate({ id: carol.user.id, role: "ADMIN" });
    expect((await carol.api.users.list.query({})).total).toBeGreaterThan(0);
    await cast.admin.users.setRole.mutate({ id: carol.user.id, role: "USER" });
    await expectError(carol.api.users.list.query({}), "FORBIDDEN");

    await carol.api.users.me.query();
    await cast.admin.users.delete.mutate({ id: carol.user.id });
    await expectError(carol.api.users.me.query(), "UNAUTHORIZED");
    await expectError(cast.anon.users.byId.query({ id: carol.user.id }), "NOT_FOUND");
  });

  it("stops a revoked API key at once", async () => {
    const created = await cast.admin.apiKeys.create.mutate({ name: "revoked soon", role: "ADMIN" });
    const service = cast.ts.client({ apiKey: created.key });
    expect((await service.users.list.query({})).total).toBeGreaterThan(0);
    await cast.admin.apiKeys.revoke.mutate({ id: created.id });
    await expectError(service.users.list.query({}), "UNAUTHORIZED");
  });
});

describe("CACHE_ENABLED=false", () => {
  it("reads the database every time (session checks stay cached)", async () => {
    const ts = await startTestServer({ CACHE_ENABLED: "false" });
    try {
      const alice = await registerUser(ts);
      const market = await createMarket(alice.api);
      await ts.client().markets.byId.query({ id: market.id });
      const { queries } = await ts.captureQueries(() => ts.client().markets.byId.query({ id: market.id }));
      expect(queries.length).toBeGreaterThan(0);
    } finally {
      await ts.close();
    }
  });
});
