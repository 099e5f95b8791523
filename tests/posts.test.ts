import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgoraClient } from "@agora/client";
import { expectError, expectFieldErrors } from "./support/errors.js";
import { createMarket } from "./support/marketplace.js";
import { type TestServer } from "./support/server.js";
import { registerUser, startCast, type UserSession } from "./support/people.js";

let ts: TestServer;
let author: UserSession;
let other: UserSession;
let admin: AgoraClient;
let anon: AgoraClient;

beforeAll(async () => {
  ({
    ts,
    admin,
    anon,
    users: [author, other],
  } = await startCast());
});
afterAll(async () => {
  await ts.close();
});

describe("posts", () => {
  it("creates a published post by default with its author", async () => {
    const post = await author.api.posts.create.mutate({ title: "Hi", content: "First" });
    expect(post).toMatchObject({
      title: "Hi",
      content: "First",
      published: true,
      marketId: null,
      author: { id: author.user.id, username: author.user.username },
    });
    expect(await anon.posts.byId.query({ id: post.id })).toEqual(post);
  });

  it("validates input and needs a user", async () => {
    await expectFieldErrors(author.api.posts.create.mutate({ title: "", content: "x" }), ["title"]);
    await expectFieldErrors(author.api.posts.create.mutate({ title: "x".repeat(201), content: "x" }), [
      "title",
    ]);
    await expectFieldErrors(author.api.posts.create.mutate({ title: "x", content: "" }), ["content"]);
    await expectFieldErrors(author.api.posts.create.mutate({ title: "x", content: "c".repeat(20_001) }), [
      "content",
    ]);
    await expectError(anon.posts.create.mutate({ title: "x", content: "y" }), "UNAUTHORIZED");
  });

  it("shows unpublished posts only to their author and admins", async () => {
    const draft = await author.api.posts.create.mutate({ title: "Draft", content: "wip", published: false });
    await expectError(anon.posts.byId.query({ id: draft.id }), "NOT_FOUND");
    await expectError(other.api.posts.byId.query({ id: draft.id }), "NOT_FOUND");
    await expectError(other.api.posts.update.mutate({ id: draft.id, data: { title: "x" } }), "NOT_FOUND");
    expect((await author.api.posts.byId.query({ id: draft.id })).published).toBe(false);
    expect((await admin.posts.byId.query({ id: draft.id })).id).toBe(draft.id);
    const anonList = await anon.posts.list.query({ authorId: author.user.id, limit: 100 });
    expect(anonList.items.map((p) => p.id)).not.toContain(draft.id);
    const ownList = await author.api.posts.list.query({ authorId: author.user.id, limit: 100 });
    expect(ownList.items.map((p) => p.id)).toContain(draft.id);
    const adminList = await admin.posts.list.query({ authorId: author.user.id, limit: 100 });
    expect(adminList.items.map((p) => p.id)).toContain(draft.id);
  });

  it("updates only given fields; author or admin only (FORBIDDEN for others)", async () => {
    const post = await author.api.posts.create.mutate({ title: "T", content: "C" });
    const updated = await author.api.posts.update.mutate({ id: post.id, data: { title: "T2" } });
    expect(updated).toMatchObject({ title: "T2", content: "C", published: true });
    await expectError(other.api.posts.update.mutate({ id: post.id, data: { title: "x" } }), "FORBIDDEN");
    await expectError(other.api.posts.delete.mutate({ id: post.id }), "FORBIDDEN");
    const hidden = await admin.posts.update.mutate({ id: post.id, data: { published: false } });
    expect(hidden.published).toBe(false);
    await expectError(anon.posts.byId.query({ id: post.id }), "NOT_FOUND");
    expect(await author.api.posts.delete.mutate({ id: post.id })).toEqual({ success: true });
    await expectError(author.api.posts.byId.query({ id: post.id }), "NOT_FOUND");
    const another = await author.api.posts.create.mutate({ title: "T", content: "C" });
    expect(await admin.posts.delete.mutate({ id: another.id })).toEqual({ success: true });
  });

  it("attaches posts to visible markets only, and hides a DRAFT market's posts", async () => {
    const market = await createMarket(author.api);
    const onMarket = await other.api.posts.create.mutate({ title: "M", content: "c", marketId: market.id });
    expect(onMarket.marketId).toBe(market.id);
    const draftMarket = await createMarket(author.api, { status: "DRAFT" });
    await expectError(
      other.api.posts.create.mutate({ title: "x", content: "y", marketId: draftMarket.id }),
      "NOT_FOUND",
    );
    await expectError(
      other.api.posts.create.mutate({ title: "x", content: "y", marketId: "missing" }),
      "NOT_FOUND",
    );
    const inDraft = await author.api.posts.create.mutate({
      title: "D",
      content: "c",
      marketId: draftMarket.id,
    });
    await expectError(other.api.posts.byId.query({ id: inDraft.id }), "NOT_FOUND");
    expect((await other.api.posts.list.query({ marketId: draftMarket.id })).items).toEqual([]);
    expect((await author.api.posts.list.query({ marketId: draftMarket.id })).items.map((p) => p.id)).toEqual([
      inDraft.id,
    ]);
    const byMarket = await anon.posts.list.query({ marketId: market.id });
    expect(byMarket.items.map((p) => p.id)).toEqual([onMarket.id]);
  });

  it("lists newest first, filters by author, and pages stably under inserts", async () => {
    const writer = await registerUser(ts);
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      ids.push((await writer.api.posts.create.mutate({ title: `P${i}`, content: "c" })).id);
    }
    const first = await anon.posts.list.query({ authorId: writer.user.id, limit: 2 });
    expect(first.items.map((p) => p.id)).toEqual([ids[4], ids[3]]);
    expect(first.items[0]?.author).toEqual({ id: writer.user.id, username: writer.user.username });
    await writer.api.posts.create.mutate({ title: "late", content: "c" });
    const seen = first.items.map((p) => p.id);
    let cursor = first.nextCursor ?? undefined;
    while (cursor) {
      const page = await anon.posts.list.query({ authorId: writer.user.id, limit: 2, cursor });
      seen.push(...page.items.map((p) => p.id));
      cursor = page.nextCursor ?? undefined;
    }
    expect(seen).toEqual([...ids].reverse());
  });
});

describe("users.delete and what they own", () => {
  it("deletes a user with only posts (their posts go too)", async () => {
    const user = await registerUser(ts);
    const post = await user.api.posts.create.mutate({ title: "bye", content: "c" });
    expect(await admin.users.delete.mutate({ id: user.user.id })).toEqual({ success: true });
    await expectError(admin.posts.byId.query({ id: post.id }), "NOT_FOUND");
  });

  it("refuses (CONFLICT) to delete a user who owns a market or has orders", async () => {
    const seller = await registerUser(ts);
    const market = await createMarket(seller.api);
    await expectError(admin.users.delete.mutate({ id: seller.user.id }), "CONFLICT");
    expect((await anon.markets.byId.query({ id: market.id })).owner.id).toBe(seller.user.id);

    const product = await seller.api.products.create.mutate({
      marketId: market.id,
      name: "p",
      priceCents: 1,
      stock: 5,
    });
    const buyer = await registerUser(ts);
    await buyer.api.orders.create.mutate({
      marketId: market.id,
      items: [{ productId: product.id, quantity: 1 }],
    });
    await expectError(admin.users.delete.mutate({ id: buyer.user.id }), "CONFLICT");
    expect((await admin.users.byId.query({ id: buyer.user.id })).id).toBe(buyer.user.id);
  });
});
