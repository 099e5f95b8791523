import type { Prisma } from "../../generated/prisma/client.js";
import { isAdmin, isUser, type Principal } from "../../shared/principal.js";
import { canSeeMarket, type MarketAccess } from "../markets/policy.js";

/**
 * Who may see and write a post: the one home of the rule. `visiblePostsWhere` is
 * `canSeePost` as a Prisma filter for lists (tests/policies.test.ts runs it against a
 * database and compares it with `canSeePost`).
 */

/** The columns a decision about a post needs: its market's access columns, if it has one. */
export interface PostAccess {
  published: boolean;
  authorId: string;
  market: MarketAccess | null;
}

/**
 * A post is visible when it is published (or the viewer wrote it, or is an admin) and its
 * market, if it has one, is visible: a draft market's posts are as hidden as the market.
 */
export function canSeePost(viewer: Principal | null, post: PostAccess): boolean {
  if (isAdmin(viewer)) return true;
  if (!post.published && !isUser(viewer, post.authorId)) return false;
  return post.market === null || canSeeMarket(viewer, post.market);
}

/** Changing and deleting: the author or an admin (others who can see the post are refused). */
export function canWritePost(viewer: Principal | null, post: Pick<PostAccess, "authorId">): boolean {
  return isAdmin(viewer) || isUser(viewer, post.authorId);
}

/** `canSeePost` as a filter for lists. */
export function visiblePostsWhere(viewer: Principal | null): Prisma.PostWhereInput {
  if (isAdmin(viewer)) return {};
  const me = viewer?.kind === "user" ? viewer.id : null;
  return {
    AND: [
      me ? { OR: [{ published: true }, { authorId: me }] } : { published: true },
      {
        OR: [
          { marketId: null },
          { market: { status: { not: "DRAFT" } } },
          ...(me ? [{ market: { ownerId: me } }] : []),
        ],
      },
    ],
  };
}
