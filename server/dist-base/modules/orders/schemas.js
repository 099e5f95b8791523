import { z } from "zod";
import { PageInput, pageOutput } from "../../shared/pagination.js";
import { Id } from "../../shared/schemas.js";
export const OrderItemOutput = z.object({
    productId: z.string(),
    quantity: z.number().int(),
    unitPriceCents: z.number().int(),
});
export const OrderOutput = z.object({
    id: z.string(),
    marketId: z.string(),
    userId: z.string(),
    status: z.enum(["CONFIRMED", "CANCELLED"]),
    items: z.array(OrderItemOutput),
    totalCents: z.number().int(),
    createdAt: z.date(),
});
export const OrderCreateInput = z.object({
    marketId: Id,
    items: z
        .array(z.object({ productId: Id, quantity: z.number().int().min(1).max(1000) }))
        .min(1)
        .max(50)
        .superRefine((items, ctx) => {
        const seen = new Set();
        items.forEach((item, index) => {
            if (seen.has(item.productId)) {
                ctx.addIssue({
                    code: "custom",
                    path: [index, "productId"],
                    message: "A product may appear only once in an order",
                });
            }
            seen.add(item.productId);
        });
    }),
    idempotencyKey: z.string().trim().min(1).max(200).optional(),
});
export const OrderIdInput = z.object({ id: Id });
export const OrderListMineInput = PageInput;
export const OrderListForMarketInput = PageInput.extend({ marketId: Id });
export const OrderPage = pageOutput(OrderOutput);
//# sourceMappingURL=schemas.js.map