/** Loads the lines with their orders: one extra query per page, never one per order. */
export const orderInclude = { items: { orderBy: { productId: "asc" } } };
export function toOrder(row) {
    return {
        id: row.id,
        marketId: row.marketId,
        userId: row.userId,
        status: row.status,
        items: row.items.map((i) => ({
            productId: i.productId,
            quantity: i.quantity,
            unitPriceCents: i.unitPriceCents,
        })),
        totalCents: Number(row.totalCents),
        createdAt: row.createdAt,
    };
}
//# sourceMappingURL=presenter.js.map