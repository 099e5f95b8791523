import { z } from "zod";
import type { EventBus, SubscribeOptions } from "../../infra/events/bus.js";
import type { Logger } from "../../infra/logger.js";
import { PostOutput } from "../../shared/schemas.js";
import { MarketOutput } from "./schemas.js";

/** What `markets.onEvent` streams: one channel per market. */
export const MarketEvent = z.discriminatedUnion("type", [
  z
    .object({
      type: z.literal("market.updated").describe("The kind of event"),
      market: MarketOutput.describe("The market as it is now"),
    })
    .describe("The market was changed"),
  z
    .object({
      type: z.literal("order.placed").describe("The kind of event"),
      orderId: z.string().describe("The new order's id (orders.byId gives its items and amount)"),
      marketVolumeCents: z
        .number()
        .int()
        .describe(
          "The market's new total volume (the market's volumeCents) after this order, in cents: not the order's amount",
        ),
      // The field's first name, kept for clients written against it: it read like the order's
      // amount, hence `marketVolumeCents`. Same value.
      volumeCents: z.number().int().meta({
        description:
          "Deprecated: use marketVolumeCents (the same value: the market's new total, not the order's amount)",
        deprecated: true,
      }),
    })
    .describe("An order was placed in the market"),
  z
    .object({
      type: z.literal("post.created").describe("The kind of event"),
      post: PostOutput.describe("The new post"),
    })
    .describe("A post about the market was written"),
]);
export type MarketEvent = z.infer<typeof MarketEvent>;

/**
 * An `order.placed` published before `marketVolumeCents` existed (kept in the stream for
 * resuming, or sent by an older instance during a rolling deploy) carries only `volumeCents`:
 * the same value under its first name.
 */
function withMarketVolume(data: unknown): unknown {
  if (typeof data !== "object" || data === null) return data;
  const event = data as Record<string, unknown>;
  return event.type === "order.placed" && event.marketVolumeCents === undefined
    ? { ...event, marketVolumeCents: event.volumeCents }
    : data;
}

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
        const parsed = MarketEvent.safeParse(withMarketVolume(data));
        if (parsed.success) yield { id, event: parsed.data };
        else log.warn({ marketId, id }, "malformed market event skipped");
      }
    })();
  }
}
