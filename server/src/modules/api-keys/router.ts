import { z } from "zod";
import { SuccessOutput } from "../../shared/schemas.js";
import { adminProcedure, router } from "../../trpc/init.js";
import { ApiKeyCreated, ApiKeyCreateInput, ApiKeyIdInput, ApiKeyOutput } from "./schemas.js";

export const apiKeysRouter = router({
  create: adminProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/api-keys",
        tags: ["api-keys"],
        summary: "Create an API key (admin)",
        description:
          "The key is in this answer only: it is stored hashed and cannot be shown again. It acts with its role on the operations that take `apiKey` security.",
      },
    })
    .input(ApiKeyCreateInput)
    .output(ApiKeyCreated)
    .mutation(({ ctx, input }) => ctx.services.apiKeys.create(input, ctx.principal.id)),

  list: adminProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/api-keys",
        tags: ["api-keys"],
        summary: "List API keys, without their secrets (admin)",
      },
    })
    .output(z.array(ApiKeyOutput))
    .query(({ ctx }) => ctx.services.apiKeys.list()),

  revoke: adminProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/api-keys/{id}/revoke",
        tags: ["api-keys"],
        summary: "Revoke an API key (admin)",
        description: "The key stops working at once; it stays listed, with `revokedAt`.",
        errors: ["NOT_FOUND"],
      },
    })
    .input(ApiKeyIdInput)
    .output(SuccessOutput)
    .mutation(async ({ ctx, input }) => {
      await ctx.services.apiKeys.revoke(input.id);
      return { success: true as const };
    }),
});
