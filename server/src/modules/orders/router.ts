import { protectedProcedure, router, userProcedure } from "../../trpc/init.js";
import {
  OrderCreateInput,
  OrderIdInput,
  OrderListForMarketInput,
  OrderListMineInput,
  OrderOutput,
  OrderPage,
} from "./schemas.js";

export const ordersRouter = router({
  create: userProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/orders",
        tags: ["orders"],
        summary: "Place an order (all or nothing)",
        description:
          "The market must be ACTIVE and every line in stock, or nothing changes (409). The same `idempotencyKey` from the same user returns the first order.",
        errors: ["NOT_FOUND"],
      },
    })
    .input(OrderCreateInput)
    .output(OrderOutput)
    .mutation(({ ctx, input }) => ctx.services.orders.create(ctx.principal, input)),

  byId: protectedProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/orders/{id}",
        tags: ["orders"],
        summary: "One order (buyer, market owner or admin)",
      },
    })
    .input(OrderIdInput)
    .output(OrderOutput)
    .query(({ ctx, input }) => ctx.services.orders.byId(ctx.principal, input.id)),

  listMine: userProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/orders",
        tags: ["orders"],
        summary: "The signed-in user's orders",
      },
    })
    .input(OrderListMineInput)
    .output(OrderPage)
    .query(({ ctx, input }) => ctx.services.orders.listMine(ctx.principal, input)),

  listForMarket: protectedProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/markets/{marketId}/orders",
        tags: ["orders"],
        summary: "A market's orders (owner or admin)",
      },
    })
    .input(OrderListForMarketInput)
    .output(OrderPage)
    .query(({ ctx, input }) => ctx.services.orders.listForMarket(ctx.principal, input)),

  cancel: protectedProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/orders/{id}/cancel",
        tags: ["orders"],
        summary: "Cancel an order and restock (buyer or admin)",
      },
    })
    .input(OrderIdInput)
    .output(OrderOutput)
    .mutation(({ ctx, input }) => ctx.services.orders.cancel(ctx.principal, input.id)),
});
