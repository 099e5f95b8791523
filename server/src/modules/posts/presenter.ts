import type { Prisma } from "../../generated/prisma/client.js";
import { userRefSelect } from "../../shared/schemas.js";
import type { PostOutput } from "./schemas.js";

/** Loads the author with the post in the same query. */
export const postInclude = { author: userRefSelect } satisfies Prisma.PostInclude;
export type PostRow = Prisma.PostGetPayload<{ include: typeof postInclude }>;

export function toPost(row: PostRow): PostOutput {
  return {
    id: row.id,
    title: row.title,
    content: row.content,
    published: row.published,
    marketId: row.marketId,
    author: { id: row.author.id, username: row.author.username },
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
