import { protectedProcedure, router, userProcedure } from "../../trpc/init.js";
import { toOrder } from "./presenter.js";
import { OrderCreateInput, OrderIdInput, OrderListForMarketInput, OrderListMineInput, OrderOutput, OrderPage, } from "./schemas.js";
export const ordersRouter = router({
    create: userProcedure
        .input(OrderCreateInput)
        .output(OrderOutput)
        .mutation(async ({ ctx, input }) => toOrder(await ctx.services.orders.create(ctx.principal, input))),
    byId: protectedProcedure
        .input(OrderIdInput)
        .output(OrderOutput)
        .query(async ({ ctx, input }) => toOrder(await ctx.services.orders.byId(ctx.principal, input.id))),
    listMine: userProcedure
        .input(OrderListMineInput)
        .output(OrderPage)
        .query(async ({ ctx, input }) => {
        const page = await ctx.services.orders.listMine(ctx.principal, input);
        return { ...page, items: page.items.map(toOrder) };
    }),
    listForMarket: protectedProcedure
        .input(OrderListForMarketInput)
        .output(OrderPage)
        .query(async ({ ctx, input }) => {
        const page = await ctx.services.orders.listForMarket(ctx.principal, input);
        return { ...page, items: page.items.map(toOrder) };
    }),
    cancel: protectedProcedure
        .input(OrderIdInput)
        .output(OrderOutput)
        .mutation(async ({ ctx, input }) => toOrder(await ctx.services.orders.cancel(ctx.principal, input.id))),
});
//# sourceMappingURL=router.js.map