import { z } from "zod";
import { PageInput, pageOutput } from "../../shared/pagination.js";
import { Id } from "../../shared/schemas.js";

export const OrderItemOutput = z.object({
  productId: z.string().describe("The product's id"),
  quantity: z.number().int().describe("How many were ordered"),
  unitPriceCents: z.number().int().describe("The product's price when the order was placed, in cents"),
});

export const OrderOutput = z.object({
  id: z.string().describe("The order's id"),
  marketId: z.string().describe("The market it was placed in"),
  userId: z.string().describe("Who placed it"),
  status: z
    .enum(["CONFIRMED", "CANCELLED"])
    .describe("CONFIRMED when placed; CANCELLED once cancelled (its stock is given back)"),
  items: z.array(OrderItemOutput).describe("What was ordered"),
  totalCents: z.number().int().describe("The order's amount: the sum of quantity × unitPriceCents, in cents"),
  createdAt: z.date().describe("When the order was placed"),
});
export type OrderOutput = z.infer<typeof OrderOutput>;

export const OrderCreateInput = z.object({
  marketId: Id.describe("The market to order from: it must be ACTIVE"),
  items: z
    .array(
      z.object({
        productId: Id.describe("A product of this market"),
        quantity: z
          .number()
          .int()
          .min(1)
          .max(1000)
          .describe("How many, 1 to 1000; at most the product's stock"),
      }),
    )
    .min(1)
    .max(50)
    .superRefine((items, ctx) => {
      const seen = new Set<string>();
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
    })
    .describe("1 to 50 lines, each product at most once"),
  idempotencyKey: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .optional()
    .describe(
      "Any unique text: a retry with the same key returns the first order instead of placing another",
    ),
});
export type OrderCreateInput = z.infer<typeof OrderCreateInput>;

export const OrderIdInput = z.object({ id: Id.describe("The order's id") });
export const OrderListMineInput = PageInput;
export const OrderListForMarketInput = PageInput.extend({ marketId: Id.describe("The market's id") });
export type OrderListForMarketInput = z.infer<typeof OrderListForMarketInput>;

export const OrderPage = pageOutput(OrderOutput);
