import { z } from "zod";
import { PageInput, pageOutput } from "../../shared/pagination.js";
import { Id } from "../../shared/schemas.js";

export const ProductOutput = z.object({
  id: z.string().describe("The product's id"),
  marketId: z.string().describe("The market that sells it"),
  name: z.string().describe("The product's name"),
  description: z.string().nullable().describe("What it is; null: none"),
  priceCents: z.number().int().describe("The price of one, in cents"),
  stock: z.number().int().describe("How many are left to order"),
  createdAt: z.date().describe("When the product was created"),
  updatedAt: z.date().describe("When the product last changed"),
});
export type ProductOutput = z.infer<typeof ProductOutput>;

const Name = z.string().trim().min(1).max(200);
const Description = z.string().max(5000);
const PriceCents = z.number().int().min(0).max(1_000_000_000);
const Stock = z.number().int().min(0).max(1_000_000);

export const ProductCreateInput = z.object({
  marketId: Id.describe("The market to sell it in (yours, or any as an admin)"),
  name: Name.describe("1 to 200 characters"),
  description: Description.nullable().optional().describe("What it is, up to 5000 characters"),
  priceCents: PriceCents.describe("The price of one, in cents (1999 is 19.99)"),
  stock: Stock.describe("How many there are to order, 0 to 1000000"),
});
export type ProductCreateInput = z.infer<typeof ProductCreateInput>;

export const ProductUpdateInput = z.object({
  id: Id.describe("The product's id"),
  data: z
    .object({
      name: Name.optional().describe("A new name, 1 to 200 characters"),
      description: Description.nullable().optional().describe("A new description; null removes it"),
      priceCents: PriceCents.optional().describe("A new price, in cents (orders already placed keep theirs)"),
      stock: Stock.optional().describe("The new number left to order"),
    })
    .describe("The fields to change; the others are left as they are"),
});
export type ProductUpdateData = z.infer<typeof ProductUpdateInput>["data"];

export const ProductListInput = PageInput.extend({ marketId: Id.describe("The market's id") });
export type ProductListInput = z.infer<typeof ProductListInput>;

export const ProductPage = pageOutput(ProductOutput);

export const ProductIdInput = z.object({ id: Id.describe("The product's id") });
