import type { Prisma } from "../../generated/prisma/client.js";
import type { OrderOutput } from "./schemas.js";

/** Loads the lines with their orders: one extra query per page, never one per order. */
export const orderInclude = { items: { orderBy: { productId: "asc" } } } satisfies Prisma.OrderInclude;
export type OrderRow = Prisma.OrderGetPayload<{ include: typeof orderInclude }>;

export function toOrder(row: OrderRow): OrderOutput {
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
