import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgoraClient } from "@agora/client";
import { expectError, expectFieldErrors } from "./support/errors.js";
import { createMarket, createProduct, subscriptionError, watchMarket } from "./support/marketplace.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { registerUser, startCast, type UserSession } from "./support/people.js";

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

describe("markets.create / byId", () => {
  it("creates a DRAFT market by default with its owner and zero volume", async () => {
    const market = await owner.api.markets.create.mutate({ name: "  Fish  ", description: "Fresh" });
    expect(market).toMatchObject({
      name: "Fish",
      description: "Fresh",
      status: "DRAFT",
      volumeCents: 0,
      owner: { id: owner.user.id, username: owner.user.username },
    });
    expect(market.createdAt).toBeInstanceOf(Date);
    expect(await owner.api.markets.byId.query({ id: market.id })).toEqual(market);
  });

  it("validates input", async () => {
    await expectFieldErrors(owner.api.markets.create.mutate({ name: "" }), ["name"]);
    await expectFieldErrors(owner.api.markets.create.mutate({ name: "x".repeat(201) }), ["name"]);
    await expectFieldErrors(owner.api.markets.create.mutate({ name: "ok", description: "d".repeat(5001) }), [
      "description",
    ]);
    // CLOSED is not a valid starting status.
    await expectFieldErrors(owner.api.markets.create.mutate({ name: "ok", status: "CLOSED" as "ACTIVE" }), [
      "status",
    ]);
  });

  it("requires a signed-in user", async () => {
    await expectError(anon.markets.create.mutate({ name: "nope" }), "UNAUTHORIZED");
  });

  it("hides DRAFT markets from everyone but the owner and admins", async () => {
    const draft = await createMarket(owner.api, { status: "DRAFT" });
    await expectError(anon.markets.byId.query({ id: draft.id }), "NOT_FOUND");
    await expectError(other.api.markets.byId.query({ id: draft.id }), "NOT_FOUND");
    expect((await admin.markets.byId.query({ id: draft.id })).id).toBe(draft.id);
    expect((await owner.api.markets.byId.query({ id: draft.id })).id).toBe(draft.id);
    // Writes by others are NOT_FOUND too: they cannot know it exists.
    await expectError(other.api.markets.update.mutate({ id: draft.id, data: { name: "x" } }), "NOT_FOUND");
    await expectError(other.api.markets.delete.mutate({ id: draft.id }), "NOT_FOUND");
    const active = await createMarket(owner.api, { status: "ACTIVE" });
    expect((await anon.markets.byId.query({ id: active.id })).status).toBe("ACTIVE");
  });

  it("answers NOT_FOUND for an unknown id", async () => {
    await expectError(anon.markets.byId.query({ id: "nope" }), "NOT_FOUND");
  });
});

describe("markets.update", () => {
  it("changes only the fields given", async () => {
    const market = await createMarket(owner.api, { description: "keep me", status: "DRAFT" });
    const renamed = await owner.api.markets.update.mutate({ id: market.id, data: { name: "Renamed" } });
    expect(renamed).toMatchObject({ name: "Renamed", description: "keep me", status: "DRAFT" });
    expect(renamed.updatedAt.getTime()).toBeGreaterThanOrEqual(market.updatedAt.getTime());
    const cleared = await owner.api.markets.update.mutate({ id: market.id, data: { description: null } });
    expect(cleared).toMatchObject({ name: "Renamed", description: null });
  });

  it("lets only the owner or an admin write a visible market (FORBIDDEN otherwise)", async () => {
    const market = await createMarket(owner.api);
    await expectError(other.api.markets.update.mutate({ id: market.id, data: { name: "x" } }), "FORBIDDEN");
    await expectError(other.api.markets.delete.mutate({ id: market.id }), "FORBIDDEN");
    await expectError(anon.markets.update.mutate({ id: market.id, data: { name: "x" } }), "UNAUTHORIZED");
    const byAdmin = await admin.markets.update.mutate({ id: market.id, data: { name: "By admin" } });
    expect(byAdmin.name).toBe("By admin");
    expect((await owner.api.markets.byId.query({ id: market.id })).name).toBe("By admin");
  });

  it("enforces status transitions: DRAFT→ACTIVE→CLOSED, DRAFT→CLOSED, CLOSED final", async () => {
    const a = await createMarket(owner.api, { status: "DRAFT" });
    expect((await owner.api.markets.update.mutate({ id: a.id, data: { status: "ACTIVE" } })).status).toBe(
      "ACTIVE",
    );
    await expectError(owner.api.markets.update.mutate({ id: a.id, data: { status: "DRAFT" } }), "CONFLICT");
    expect((await owner.api.markets.update.mutate({ id: a.id, data: { status: "CLOSED" } })).status).toBe(
      "CLOSED",
    );
    await expectError(owner.api.markets.update.mutate({ id: a.id, data: { status: "ACTIVE" } }), "CONFLICT");
    await expectError(owner.api.markets.update.mutate({ id: a.id, data: { status: "DRAFT" } }), "CONFLICT");
    expect((await owner.api.markets.byId.query({ id: a.id })).status).toBe("CLOSED");

    const b = await createMarket(owner.api, { status: "DRAFT" });
    expect((await owner.api.markets.update.mutate({ id: b.id, data: { status: "CLOSED" } })).status).toBe(
      "CLOSED",
    );
  });
});

describe("markets.delete", () => {
  it("deletes a market with its products", async () => {
    const market = await createMarket(owner.api);
    const product = await createProduct(owner.api, market.id);
    expect(await owner.api.markets.delete.mutate({ id: market.id })).toEqual({ success: true });
    await expectError(owner.api.markets.byId.query({ id: market.id }), "NOT_FOUND");
    await expectError(owner.api.products.byId.query({ id: product.id }), "NOT_FOUND");
    await expectError(owner.api.markets.delete.mutate({ id: market.id }), "NOT_FOUND");
  });

  it("refuses to delete a market with orders (CONFLICT), admins included", async () => {
    const market = await createMarket(owner.api);
    const product = await createProduct(owner.api, market.id);
    await other.api.orders.create.mutate({
      marketId: market.id,
      items: [{ productId: product.id, quantity: 1 }],
    });
    await expectError(owner.api.markets.delete.mutate({ id: market.id }), "CONFLICT");
    await expectError(admin.markets.delete.mutate({ id: market.id }), "CONFLICT");
    expect((await anon.markets.byId.query({ id: market.id })).id).toBe(market.id);
  });
});

describe("markets.list", () => {
  // A dedicated owner so counts and orders are exact.
  let seller: UserSession;
  let ids: { a: string; b: string; c: string; d: string; draft: string };

  beforeAll(async () => {
    seller = await registerUser(ts);
    const a = await createMarket(seller.api, { name: "Cherry stall", description: "fruit" });
    const b = await createMarket(seller.api, { name: "apple cart", description: "more FRUIT here" });
    const c = await createMarket(seller.api, { name: "Banana boat" });
    const d = await createMarket(seller.api, { name: "Date depot" });
    const draft = await createMarket(seller.api, { name: "Secret draft", status: "DRAFT" });
    await seller.api.markets.update.mutate({ id: d.id, data: { status: "CLOSED" } });
    ids = { a: a.id, b: b.id, c: c.id, d: d.id, draft: draft.id };
    // Volumes: c > a > b = 0 via real orders.
    const buyer = await registerUser(ts);
    const pa = await createProduct(seller.api, a.id, { priceCents: 500, stock: 100 });
    const pc = await createProduct(seller.api, c.id, { priceCents: 700, stock: 100 });
    await buyer.api.orders.create.mutate({ marketId: a.id, items: [{ productId: pa.id, quantity: 1 }] });
    await buyer.api.orders.create.mutate({ marketId: c.id, items: [{ productId: pc.id, quantity: 3 }] });
  });

  it("lists newest first by default with total, hiding others' drafts", async () => {
    const page = await anon.markets.list.query({ ownerId: seller.user.id });
    expect(page.items.map((m) => m.id)).toEqual([ids.d, ids.c, ids.b, ids.a]);
    expect(page.total).toBe(4);
    expect(page.nextCursor).toBeNull();
    const mine = await seller.api.markets.list.query({ ownerId: seller.user.id });
    expect(mine.items.map((m) => m.id)).toEqual([ids.draft, ids.d, ids.c, ids.b, ids.a]);
    expect(mine.total).toBe(5);
    const byAdmin = await admin.markets.list.query({ ownerId: seller.user.id, status: "DRAFT" });
    expect(byAdmin.items.map((m) => m.id)).toEqual([ids.draft]);
    const drafts = await other.api.markets.list.query({ ownerId: seller.user.id, status: "DRAFT" });
    expect(drafts).toEqual({ items: [], nextCursor: null, total: 0 });
  });

  it("filters by status and searches name and description case-insensitively", async () => {
    const closed = await anon.markets.list.query({ ownerId: seller.user.id, status: "CLOSED" });
    expect(closed.items.map((m) => m.id)).toEqual([ids.d]);
    const fruit = await anon.markets.list.query({ ownerId: seller.user.id, search: "fruit" });
    expect(new Set(fruit.items.map((m) => m.id))).toEqual(new Set([ids.a, ids.b]));
    expect(fruit.total).toBe(2);
    const boat = await anon.markets.list.query({ ownerId: seller.user.id, search: "BOAT" });
    expect(boat.items.map((m) => m.id)).toEqual([ids.c]);
  });

  it("sorts by volume and by name in both orders", async () => {
    const byVolume = await anon.markets.list.query({
      ownerId: seller.user.id,
      sort: "volume",
      order: "desc",
    });
    expect(byVolume.items.map((m) => m.volumeCents)).toEqual([2100, 500, 0, 0]);
    expect(byVolume.items.slice(0, 2).map((m) => m.id)).toEqual([ids.c, ids.a]);
    const byName = await anon.markets.list.query({ ownerId: seller.user.id, sort: "name", order: "asc" });
    const names = byName.items.map((m) => m.name);
    expect(names).toEqual([...names].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
    const desc = await anon.markets.list.query({ ownerId: seller.user.id, sort: "name", order: "desc" });
    expect(desc.items.map((m) => m.name)).toEqual([...names].reverse());
  });

  it("pages with a keyset cursor for every sort, stable under inserts", async () => {
    for (const sort of ["createdAt", "volume", "name"] as const) {
      for (const order of ["asc", "desc"] as const) {
        const all = await anon.markets.list.query({ ownerId: seller.user.id, sort, order, limit: 100 });
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await anon.markets.list.query({
            ownerId: seller.user.id,
            sort,
            order,
            limit: 1,
            cursor,
          });
          expect(page.total).toBe(4);
          seen.push(...page.items.map((m) => m.id));
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        expect(seen).toEqual(all.items.map((m) => m.id));
      }
    }
    // A market created between pages does not shift the next page.
    const first = await anon.markets.list.query({ ownerId: seller.user.id, limit: 2 });
    const inserted = await createMarket(seller.api, { name: "Late arrival" });
    const cursor = first.nextCursor ?? undefined;
    expect(cursor).toBeDefined();
    const second = await anon.markets.list.query({ ownerId: seller.user.id, limit: 2, cursor });
    expect(second.items.map((m) => m.id)).toEqual([ids.b, ids.a]);
    expect(second.items.map((m) => m.id)).not.toContain(inserted.id);
    await seller.api.markets.delete.mutate({ id: inserted.id });
  });

  it("refuses a malformed cursor or one from another sort", async () => {
    await expectFieldErrors(anon.markets.list.query({ cursor: "garbage" }), ["cursor"]);
    const page = await anon.markets.list.query({ ownerId: seller.user.id, limit: 1, sort: "name" });
    const cursor = page.nextCursor ?? "";
    await expectFieldErrors(anon.markets.list.query({ ownerId: seller.user.id, cursor, sort: "volume" }), [
      "cursor",
    ]);
    await expectFieldErrors(anon.markets.list.query({ limit: 101 }), ["limit"]);
  });
});

describe("markets.onEvent", () => {
  it("streams market.updated, order.placed and post.created with resumable ids", async () => {
    const market = await createMarket(owner.api);
    const product = await createProduct(owner.api, market.id, { priceCents: 250, stock: 5 });
    const watcher = await watchMarket(ts, { marketId: market.id });
    try {
      await owner.api.markets.update.mutate({ id: market.id, data: { name: "Live" } });
      const order = await other.api.orders.create.mutate({
        marketId: market.id,
        items: [{ productId: product.id, quantity: 2 }],
      });
      const post = await other.api.posts.create.mutate({
        title: "Hello",
        content: "World",
        marketId: market.id,
      });
      // An unpublished post is not announced.
      await other.api.posts.create.mutate({
        title: "Hidden",
        content: "x",
        marketId: market.id,
        published: false,
      });
      const events = await watcher.next(3);
      expect(events.map((e) => e.data.type)).toEqual(["market.updated", "order.placed", "post.created"]);
      const [updated, placed, created] = events.map((e) => e.data);
      expect(updated?.type === "market.updated" && updated.market.name).toBe("Live");
      expect(updated?.type === "market.updated" && updated.market.updatedAt).toBeInstanceOf(Date);
      // The market's new total (one order of 2 x 250 on a new market), under its clear name
      // and, deprecated, its first one.
      expect(placed).toEqual({
        type: "order.placed",
        orderId: order.id,
        marketVolumeCents: 500,
        volumeCents: 500,
      });
      expect(created?.type === "post.created" && created.post.id).toBe(post.id);
      expect(new Set(events.map((e) => e.id)).size).toBe(3);

      // Resuming after the first event replays exactly the two that followed it.
      const first = events[0]?.id ?? "";
      const resumed = await watchMarket(ts, { marketId: market.id, lastEventId: first });
      try {
        const replayed = await resumed.next(2);
        expect(replayed.map((e) => e.id)).toEqual(events.slice(1).map((e) => e.id));
        // ...and then continues live.
        await owner.api.markets.update.mutate({ id: market.id, data: { status: "CLOSED" } });
        const [, , live] = await resumed.next(3);
        expect(live?.data.type === "market.updated" && live.data.market.status).toBe("CLOSED");
      } finally {
        resumed.close();
      }
      await new Promise((r) => setTimeout(r, 100));
      expect(watcher.events).toHaveLength(4);
    } finally {
      watcher.close();
    }
  });

  it("does not deliver one market's events to another's subscribers", async () => {
    const a = await createMarket(owner.api);
    const b = await createMarket(owner.api);
    const watcher = await watchMarket(ts, { marketId: a.id });
    try {
      await owner.api.markets.update.mutate({ id: b.id, data: { name: "B changed" } });
      await owner.api.markets.update.mutate({ id: a.id, data: { name: "A changed" } });
      const [only] = await watcher.next(1);
      expect(only?.data.type === "market.updated" && only.data.market.id).toBe(a.id);
      await new Promise((r) => setTimeout(r, 100));
      expect(watcher.events).toHaveLength(1);
    } finally {
      watcher.close();
    }
  });

  it("serves the first subscriptions of a fresh server all at once", async () => {
    // With Redis, the first subscriptions open the event bus's subscriber connection; a
    // SUBSCRIBE sent during its handshake used to fail ioredis' ready check and with it every
    // pending subscription (INTERNAL_SERVER_ERROR), as seen in `pnpm soak`.
    const fresh = await startTestServer();
    try {
      const seller = await registerUser(fresh);
      const market = await createMarket(seller.api);
      const watchers = await Promise.allSettled(
        Array.from({ length: 16 }, () => watchMarket(fresh, { marketId: market.id })),
      );
      const opened = watchers.flatMap((w) => (w.status === "fulfilled" ? [w.value] : []));
      try {
        expect(watchers.filter((w) => w.status === "rejected").map((w) => String(w.reason))).toEqual([]);
        await seller.api.markets.update.mutate({ id: market.id, data: { name: "Seen by all" } });
        for (const watcher of opened) {
          const [event] = await watcher.next(1);
          expect(event?.data.type === "market.updated" && event.data.market.name).toBe("Seen by all");
        }
      } finally {
        for (const watcher of opened) watcher.close();
      }
    } finally {
      await fresh.close();
    }
  });

  it("hides a DRAFT market's events from all but its owner and admins", async () => {
    const draft = await createMarket(owner.api, { status: "DRAFT" });
    const error = await subscriptionError(ts, { marketId: draft.id });
    expect(error).toMatchObject({ data: { code: "NOT_FOUND" } });
    const otherError = await subscriptionError(ts, { marketId: draft.id }, other.tokens.accessToken);
    expect(otherError).toMatchObject({ data: { code: "NOT_FOUND" } });
    const watcher = await watchMarket(ts, { marketId: draft.id }, owner.tokens.accessToken);
    try {
      await owner.api.markets.update.mutate({ id: draft.id, data: { description: "still a draft" } });
      const [event] = await watcher.next(1);
      expect(event?.data.type === "market.updated" && event.data.market.description).toBe("still a draft");
    } finally {
      watcher.close();
    }
  });
});
