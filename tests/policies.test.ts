import {
  canCancelOrder,
  canManageMarket,
  canManageProduct,
  canSeeMarket,
  canSeeOrder,
  canSeePost,
  canSeeProduct,
  canSeeUserEmail,
  canUpdateUser,
  canWritePost,
  visibleMarketsSql,
} from "@agora/server/testing";
import { describe, expect, it } from "vitest";
import { viewersAround, type ViewerName } from "./support/viewers.js";

/**
 * Each rule of each entity's policy (modules/<domain>/policy.ts), for each kind of caller:
 * anonymous, another user, the owner (author, buyer), an admin, an API key (whose id is the
 * owner's: a key is never a user) and an admin API key. The SQL and Prisma forms of the
 * visibility rules are compared with these predicates on a database in policies-database.test.ts.
 */

const OWNER = "u-owner";
const OTHER = "u-other";
const viewers = viewersAround(OWNER, OTHER);
const names = Object.keys(viewers) as ViewerName[];

/** Who the predicate lets through, by name. */
function allowed(predicate: (viewer: (typeof viewers)[ViewerName]) => boolean): ViewerName[] {
  return names.filter((name) => predicate(viewers[name]));
}

describe("market policy", () => {
  it.each(["ACTIVE", "CLOSED"] as const)("everyone sees an %s market", (status) => {
    expect(allowed((v) => canSeeMarket(v, { ownerId: OWNER, status }))).toEqual(names);
  });

  it("a DRAFT market is its owner's and admins' only", () => {
    expect(allowed((v) => canSeeMarket(v, { ownerId: OWNER, status: "DRAFT" }))).toEqual([
      "owner",
      "admin",
      "adminApiKey",
    ]);
  });

  it.each(["DRAFT", "ACTIVE", "CLOSED"] as const)("the owner and admins manage a %s market", (status) => {
    expect(allowed((v) => canManageMarket(v, { ownerId: OWNER, status }))).toEqual([
      "owner",
      "admin",
      "adminApiKey",
    ]);
  });

  it("as SQL: no condition for admins, drafts hidden from the rest but a user's own", () => {
    const bound: string[] = [];
    const param = (value: string) => {
      bound.push(value);
      return `$${String(bound.length)}`;
    };
    expect(visibleMarketsSql(viewers.admin, param)).toBeNull();
    expect(visibleMarketsSql(viewers.adminApiKey, param)).toBeNull();
    expect(visibleMarketsSql(viewers.anonymous, param)).toBe("m.status <> 'DRAFT'");
    expect(visibleMarketsSql(viewers.apiKey, param)).toBe("m.status <> 'DRAFT'");
    expect(bound).toEqual([]);
    expect(visibleMarketsSql(viewers.owner, param, "x")).toBe("(x.status <> 'DRAFT' OR x.owner_id = $1)");
    expect(bound).toEqual([OWNER]);
  });
});

describe("product policy", () => {
  it("a product is seen as its market is", () => {
    expect(allowed((v) => canSeeProduct(v, { market: { ownerId: OWNER, status: "ACTIVE" } }))).toEqual(names);
    expect(allowed((v) => canSeeProduct(v, { market: { ownerId: OWNER, status: "DRAFT" } }))).toEqual([
      "owner",
      "admin",
      "adminApiKey",
    ]);
  });

  it("the market's owner and admins manage its products", () => {
    expect(allowed((v) => canManageProduct(v, { market: { ownerId: OWNER, status: "ACTIVE" } }))).toEqual([
      "owner",
      "admin",
      "adminApiKey",
    ]);
  });
});

describe("post policy", () => {
  const post = (published: boolean, market: "none" | "DRAFT" | "ACTIVE" | "CLOSED", marketOwner = OTHER) => ({
    published,
    authorId: OWNER,
    market: market === "none" ? null : { ownerId: marketOwner, status: market },
  });

  it.each(["none", "ACTIVE", "CLOSED"] as const)("everyone sees a published post (market: %s)", (market) => {
    expect(allowed((v) => canSeePost(v, post(true, market)))).toEqual(names);
  });

  it("an unpublished post is its author's and admins' only", () => {
    expect(allowed((v) => canSeePost(v, post(false, "none")))).toEqual(["owner", "admin", "adminApiKey"]);
    expect(allowed((v) => canSeePost(v, post(false, "ACTIVE")))).toEqual(["owner", "admin", "adminApiKey"]);
  });

  it("a post in a DRAFT market is as hidden as the market, even from its author", () => {
    // The market is the other user's: they see its published posts, the author does not.
    expect(allowed((v) => canSeePost(v, post(true, "DRAFT")))).toEqual(["user", "admin", "adminApiKey"]);
    expect(allowed((v) => canSeePost(v, post(false, "DRAFT")))).toEqual(["admin", "adminApiKey"]);
    // In the author's own draft market, the author sees it.
    expect(allowed((v) => canSeePost(v, post(true, "DRAFT", OWNER)))).toEqual([
      "owner",
      "admin",
      "adminApiKey",
    ]);
  });

  it("the author and admins write a post", () => {
    expect(allowed((v) => canWritePost(v, { authorId: OWNER }))).toEqual(["owner", "admin", "adminApiKey"]);
  });
});

describe("order policy", () => {
  // The owner is the buyer; the other user owns the market.
  const order = { userId: OWNER, marketOwnerId: OTHER };

  it("the buyer, the market's owner and admins see an order", () => {
    expect(allowed((v) => canSeeOrder(v, order))).toEqual(["user", "owner", "admin", "adminApiKey"]);
  });

  it("the buyer and admins cancel it; the market's owner may not", () => {
    expect(allowed((v) => canCancelOrder(v, order))).toEqual(["owner", "admin", "adminApiKey"]);
  });
});

describe("user policy", () => {
  it("a user's email is theirs and admins' to see", () => {
    expect(allowed((v) => canSeeUserEmail(v, { id: OWNER }))).toEqual(["owner", "admin", "adminApiKey"]);
  });

  it("a user is changed by themselves or an admin", () => {
    expect(allowed((v) => canUpdateUser(v, { id: OWNER }))).toEqual(["owner", "admin", "adminApiKey"]);
  });
});
