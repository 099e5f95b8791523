import { z } from "zod";
import type { EventBus, SubscribeOptions } from "../../infra/events/bus.js";
import type { Logger } from "../../infra/logger.js";
import { PostOutput } from "../../shared/schemas.js";
import { MarketOutput } from "./schemas.js";

/** What `markets.onEvent` streams: one channel per market. */
export const MarketEvent = z.discriminatedUnion("type", [
  z
    .object({ type: z.literal("market.updated"), market: MarketOutput.describe("The market as it is now") })
    .describe("The market was changed"),
  z
    .object({
      type: z.literal("order.placed"),
      orderId: z.string().describe("The new order's id (orders.byId gives its items and amount)"),
      // Not the order's amount: a reader of `volumeCents` alone would take it for one.
      volumeCents: z
        .number()
        .int()
        .describe(
          "The market's new total volume (MarketOutput.volumeCents) after this order, in cents: NOT the order's amount",
        ),
    })
    .describe("An order was placed in the market"),
  z
    .object({ type: z.literal("post.created"), post: PostOutput.describe("The new post") })
    .describe("A post about the market was written"),
]);
export type MarketEvent = z.infer<typeof MarketEvent>;

export function marketChannel(marketId: string): string {
  return `market:${marketId}`;
}

/** Typed publishing and subscribing of market events over the process's event bus. */
export class MarketEvents {
  constructor(
    private readonly bus: EventBus,
    private readonly log: Logger,
  ) {}

  /** Call after the transaction that caused the event has committed. */
  publish(marketId: string, event: MarketEvent): Promise<void> {
    return this.bus.publish(marketChannel(marketId), event);
  }

  /** Resolves once listening: nothing published after that is missed. */
  async subscribe(
    marketId: string,
    options: SubscribeOptions,
  ): Promise<AsyncIterable<{ id: string; event: MarketEvent }>> {
    const events = await this.bus.subscribe(marketChannel(marketId), options);
    const log = this.log;
    return (async function* () {
      for await (const { id, data } of events) {
        const parsed = MarketEvent.safeParse(data);
        if (parsed.success) yield { id, event: parsed.data };
        else log.warn({ marketId, id }, "malformed market event skipped");
      }
    })();
  }
}
