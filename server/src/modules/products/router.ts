import { SuccessOutput } from "../../shared/schemas.js";
import { protectedProcedure, publicProcedure, router } from "../../trpc/init.js";
import {
  ProductCreateInput,
  ProductIdInput,
  ProductListInput,
  ProductOutput,
  ProductPage,
  ProductUpdateInput,
} from "./schemas.js";

export const productsRouter = router({
  list: publicProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/markets/{marketId}/products",
        tags: ["products"],
        summary: "List a market's products",
      },
    })
    .input(ProductListInput)
    .output(ProductPage)
    .query(({ ctx, input }) => ctx.services.products.list(ctx.principal, input)),

  byId: publicProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/products/{id}",
        tags: ["products"],
        summary: "One product",
      },
    })
    .input(ProductIdInput)
    .output(ProductOutput)
    .query(({ ctx, input }) => ctx.services.products.byId(ctx.principal, input.id)),

  create: protectedProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/markets/{marketId}/products",
        tags: ["products"],
        summary: "Add a product to a market (owner or admin)",
      },
    })
    .input(ProductCreateInput)
    .output(ProductOutput)
    .mutation(({ ctx, input }) => ctx.services.products.create(ctx.principal, input)),

  update: protectedProcedure
    .meta({
      openapi: {
        method: "PATCH",
        path: "/products/{id}",
        tags: ["products"],
        summary: "Change a product (market owner or admin)",
      },
    })
    .input(ProductUpdateInput)
    .output(ProductOutput)
    .mutation(({ ctx, input }) => ctx.services.products.update(ctx.principal, input.id, input.data)),

  delete: protectedProcedure
    .meta({
      openapi: {
        method: "DELETE",
        path: "/products/{id}",
        tags: ["products"],
        summary: "Delete a product (market owner or admin)",
      },
    })
    .input(ProductIdInput)
    .output(SuccessOutput)
    .mutation(async ({ ctx, input }) => {
      await ctx.services.products.delete(ctx.principal, input.id);
      return { success: true as const };
    }),
});
