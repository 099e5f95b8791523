import { z } from "zod";
import { PageInput, pageOutput } from "../../shared/pagination.js";
import { Id } from "../../shared/schemas.js";
export const ProductOutput = z.object({
    id: z.string(),
    marketId: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    priceCents: z.number().int(),
    stock: z.number().int(),
    createdAt: z.date(),
    updatedAt: z.date(),
});
const Name = z.string().trim().min(1).max(200);
const Description = z.string().max(5000);
const PriceCents = z.number().int().min(0).max(1_000_000_000);
const Stock = z.number().int().min(0).max(1_000_000);
export const ProductCreateInput = z.object({
    marketId: Id,
    name: Name,
    description: Description.nullable().optional(),
    priceCents: PriceCents,
    stock: Stock,
});
export const ProductUpdateInput = z.object({
    id: Id,
    data: z.object({
        name: Name.optional(),
        description: Description.nullable().optional(),
        priceCents: PriceCents.optional(),
        stock: Stock.optional(),
    }),
});
export const ProductListInput = PageInput.extend({ marketId: Id });
export const ProductPage = pageOutput(ProductOutput);
export const ProductIdInput = z.object({ id: Id });
//# sourceMappingURL=schemas.js.map