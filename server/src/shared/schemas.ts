import { z } from "zod";

/** An id as clients send it: opaque, bounded. */
export const Id = z.string().min(1).max(100);

/** Who owns or wrote something, as anyone may see it. */
export const UserRef = z.object({
  id: z.string().describe("The user's id"),
  username: z.string().describe("The user's public handle"),
});
export type UserRef = z.infer<typeof UserRef>;

/** The select that loads a `UserRef` with its parent row, in the same query. */
export const userRefSelect = { select: { id: true, username: true } } as const;

/**
 * A post as clients see it. Here rather than in modules/posts/ because the market's event
 * stream (modules/markets/events.ts) carries new posts, while posts depend on markets (a post
 * is about a market, and as visible as it): so markets need not import posts.
 */
export const PostOutput = z.object({
  id: z.string().describe("The post's id"),
  title: z.string().describe("The post's title"),
  content: z.string().describe("The post's text"),
  published: z.boolean().describe("false: a draft, seen by its author and admins only"),
  marketId: z.string().nullable().describe("The market it is about; null: none"),
  author: UserRef.describe("Who wrote it"),
  createdAt: z.date().describe("When the post was created"),
  updatedAt: z.date().describe("When the post last changed"),
});
export type PostOutput = z.infer<typeof PostOutput>;

export const SuccessOutput = z.object({
  success: z.literal(true).describe("Always true: failures are errors"),
});
