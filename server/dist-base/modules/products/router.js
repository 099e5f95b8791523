import { SuccessOutput } from "../../shared/schemas.js";
import { protectedProcedure, publicProcedure, router } from "../../trpc/init.js";
import { ProductCreateInput, ProductIdInput, ProductListInput, ProductOutput, ProductPage, ProductUpdateInput, } from "./schemas.js";
export const productsRouter = router({
    list: publicProcedure
        .input(ProductListInput)
        .output(ProductPage)
        .query(({ ctx, input }) => ctx.services.products.list(ctx.principal, input)),
    byId: publicProcedure
        .input(ProductIdInput)
        .output(ProductOutput)
        .query(({ ctx, input }) => ctx.services.products.byId(ctx.principal, input.id)),
    create: protectedProcedure
        .input(ProductCreateInput)
        .output(ProductOutput)
        .mutation(({ ctx, input }) => ctx.services.products.create(ctx.principal, input)),
    update: protectedProcedure
        .input(ProductUpdateInput)
        .output(ProductOutput)
        .mutation(({ ctx, input }) => ctx.services.products.update(ctx.principal, input.id, input.data)),
    delete: protectedProcedure
        .input(ProductIdInput)
        .output(SuccessOutput)
        .mutation(async ({ ctx, input }) => {
        await ctx.services.products.delete(ctx.principal, input.id);
        return { success: true };
    }),
});
//# sourceMappingURL=router.js.map