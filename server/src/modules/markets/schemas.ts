import { z } from "zod";
import { PageInput, pageOutputWithTotal } from "../../shared/pagination.js";
import { Id, UserRef } from "../../shared/schemas.js";

export const MarketStatusSchema = z.enum(["DRAFT", "ACTIVE", "CLOSED"]);
export type MarketStatus = z.infer<typeof MarketStatusSchema>;

export const MarketOutput = z.object({
  id: z.string().describe("The market's id"),
  name: z.string().describe("The market's name"),
  description: z.string().nullable().describe("What the market sells; null: none"),
  status: MarketStatusSchema.describe(
    "DRAFT: seen by its owner and admins only; ACTIVE: open for orders; CLOSED: seen by all, no orders",
  ),
  volumeCents: z.number().int().describe("The market's total of confirmed orders, in cents"),
  owner: UserRef.describe("Who runs the market"),
  createdAt: z.date().describe("When the market was created"),
  updatedAt: z.date().describe("When the market last changed"),
});
export type MarketOutput = z.infer<typeof MarketOutput>;

const MarketName = z.string().trim().min(1).max(200);
const MarketDescription = z.string().max(5000);

export const MarketCreateInput = z.object({
  name: MarketName.describe("The market's name, 1 to 200 characters"),
  description: MarketDescription.nullable()
    .optional()
    .describe("What the market sells, up to 5000 characters"),
  status: z
    .enum(["DRAFT", "ACTIVE"])
    .default("DRAFT")
    .describe("DRAFT: seen by its owner and admins only; ACTIVE: open for orders at once"),
});
export type MarketCreateInput = z.infer<typeof MarketCreateInput>;

export const MarketUpdateInput = z.object({
  id: Id.describe("The market's id"),
  data: z
    .object({
      name: MarketName.optional().describe("A new name, 1 to 200 characters"),
      description: MarketDescription.nullable().optional().describe("A new description; null removes it"),
      status: MarketStatusSchema.optional().describe(
        "A new status: DRAFT, ACTIVE, or CLOSED (no more orders)",
      ),
    })
    .describe("The fields to change; the others are left as they are"),
});
export type MarketUpdateData = z.infer<typeof MarketUpdateInput>["data"];

export const MarketSort = z.enum(["createdAt", "volume", "name"]);
export type MarketSort = z.infer<typeof MarketSort>;
export const SortOrder = z.enum(["asc", "desc"]);

export const MarketListInput = PageInput.extend({
  status: MarketStatusSchema.optional().describe("Only markets with this status"),
  ownerId: Id.optional().describe("Only the markets of this user"),
  search: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .optional()
    .describe("Only markets whose name or description contains this text (any case)"),
  sort: MarketSort.default("createdAt").describe("What to sort by"),
  order: SortOrder.default("desc").describe("asc: smallest or oldest first; desc: largest or newest first"),
});
export type MarketListInput = z.infer<typeof MarketListInput>;

export const MarketPage = pageOutputWithTotal(MarketOutput);

export const MarketIdInput = z.object({ id: Id.describe("The market's id") });

export const MarketEventInput = z.object({
  marketId: Id.describe("The market whose events to stream"),
  /** Set by the client on reconnect (SSE `Last-Event-ID`); replays what was missed. */
  lastEventId: z
    .string()
    .max(100)
    .nullish()
    .describe("The id of the last event received: the events after it are replayed first"),
});
