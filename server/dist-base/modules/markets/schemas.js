import { z } from "zod";
import { PageInput, pageOutputWithTotal } from "../../shared/pagination.js";
import { Id, UserRef } from "../../shared/schemas.js";
export const MarketStatusSchema = z.enum(["DRAFT", "ACTIVE", "CLOSED"]);
export const MarketOutput = z.object({
    id: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    status: MarketStatusSchema,
    volumeCents: z.number().int(),
    owner: UserRef,
    createdAt: z.date(),
    updatedAt: z.date(),
});
const MarketName = z.string().trim().min(1).max(200);
const MarketDescription = z.string().max(5000);
export const MarketCreateInput = z.object({
    name: MarketName,
    description: MarketDescription.nullable().optional(),
    status: z.enum(["DRAFT", "ACTIVE"]).default("DRAFT"),
});
export const MarketUpdateInput = z.object({
    id: Id,
    data: z.object({
        name: MarketName.optional(),
        description: MarketDescription.nullable().optional(),
        status: MarketStatusSchema.optional(),
    }),
});
export const MarketSort = z.enum(["createdAt", "volume", "name"]);
export const SortOrder = z.enum(["asc", "desc"]);
export const MarketListInput = PageInput.extend({
    status: MarketStatusSchema.optional(),
    ownerId: Id.optional(),
    search: z.string().trim().min(1).max(200).optional(),
    sort: MarketSort.default("createdAt"),
    order: SortOrder.default("desc"),
});
export const MarketPage = pageOutputWithTotal(MarketOutput);
export const MarketIdInput = z.object({ id: Id });
export const MarketEventInput = z.object({
    marketId: Id,
    /** Set by the client on reconnect (SSE `Last-Event-ID`); replays what was missed. */
    lastEventId: z.string().max(100).nullish(),
});
//# sourceMappingURL=schemas.js.map