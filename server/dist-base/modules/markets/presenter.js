import { userRefSelect } from "../../shared/schemas.js";
/** Loads the owner with the market in the same query. */
export const marketInclude = { owner: userRefSelect };
export function toMarket(row) {
    return {
        id: row.id,
        name: row.name,
        description: row.description,
        status: row.status,
        // Cents of every confirmed order: far below 2^53 for any plausible market.
        volumeCents: Number(row.volumeCents),
        owner: { id: row.owner.id, username: row.owner.username },
        createdAt: row.createdAt,
        updatedAt: row.updatedAt,
    };
}
//# sourceMappingURL=presenter.js.map