import { tracked } from "@trpc/server";
import { trackedEvents } from "../../shared/async-iterable.js";
import { openEventStream } from "../../trpc/streams.js";
import { SuccessOutput } from "../../shared/schemas.js";
import { protectedProcedure, publicProcedure, router, userProcedure } from "../../trpc/init.js";
import { MarketEvent } from "./events.js";
import {
  MarketCreateInput,
  MarketEventInput,
  MarketIdInput,
  MarketListInput,
  MarketOutput,
  MarketPage,
  MarketUpdateInput,
} from "./schemas.js";

export const marketsRouter = router({
  list: publicProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/markets",
        tags: ["markets"],
        summary: "List markets",
      },
    })
    .input(MarketListInput)
    .output(MarketPage)
    .query(({ ctx, input }) => ctx.services.markets.list(ctx.principal, input)),

  byId: publicProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/markets/{id}",
        tags: ["markets"],
        summary: "One market",
      },
    })
    .input(MarketIdInput)
    .output(MarketOutput)
    .query(({ ctx, input }) => ctx.services.markets.byId(ctx.principal, input.id)),

  create: userProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/markets",
        tags: ["markets"],
        summary: "Create a market",
      },
    })
    .input(MarketCreateInput)
    .output(MarketOutput)
    .mutation(({ ctx, input }) => ctx.services.markets.create(ctx.principal.id, input)),

  update: protectedProcedure
    .meta({
      openapi: {
        method: "PATCH",
        path: "/markets/{id}",
        tags: ["markets"],
        summary: "Change a market (owner or admin)",
      },
    })
    .input(MarketUpdateInput)
    .output(MarketOutput)
    .mutation(({ ctx, input }) => ctx.services.markets.update(ctx.principal, input.id, input.data)),

  delete: protectedProcedure
    .meta({
      openapi: {
        method: "DELETE",
        path: "/markets/{id}",
        tags: ["markets"],
        summary: "Delete a market without orders (owner or admin)",
      },
    })
    .input(MarketIdInput)
    .output(SuccessOutput)
    .mutation(async ({ ctx, input }) => {
      await ctx.services.markets.delete(ctx.principal, input.id);
      return { success: true as const };
    }),

  /**
   * Server-sent events of one market. The visibility check runs before the stream opens, so
   * a hidden market fails with NOT_FOUND rather than as a broken stream. Every event carries
   * an id; a client that reconnects sends the last one and gets what it missed. The stream
   * counts against the caller's open streams and ends with its credentials (trpc/streams.ts).
   */
  onEvent: publicProcedure
    .meta({
      summary:
        "Live events of one market (market updated, order placed, post created), resumable with lastEventId",
    })
    .input(MarketEventInput)
    .output(trackedEvents(MarketEvent))
    .subscription(async ({ ctx, input, signal }) => {
      const events = await openEventStream(ctx, signal, (streamSignal) =>
        ctx.services.markets.subscribe(ctx.principal, input.marketId, {
          lastEventId: input.lastEventId ?? null,
          signal: streamSignal,
        }),
      );
      return (async function* () {
        for await (const { id, event } of events) yield tracked(id, event);
      })();
    }),
});
