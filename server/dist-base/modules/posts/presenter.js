import { userRefSelect } from "../../shared/schemas.js";
/** Loads the author with the post in the same query. */
export const postInclude = { author: userRefSelect };
export function toPost(row) {
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
//# sourceMappingURL=presenter.js.map