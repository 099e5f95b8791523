import { z } from "zod";
import { SuccessOutput } from "../../shared/schemas.js";
import { adminProcedure, router } from "../../trpc/init.js";
import { ApiKeyCreated, ApiKeyCreateInput, ApiKeyIdInput, ApiKeyOutput } from "./schemas.js";

export const apiKeysRouter = router({
  create: adminProcedure
    .meta({ summary: "Create an API key (the key is shown once)" })
    .input(ApiKeyCreateInput)
    .output(ApiKeyCreated)
    .mutation(({ ctx, input }) => ctx.services.apiKeys.create(input, ctx.principal.id)),

  list: adminProcedure
    .meta({ summary: "List API keys (never the keys themselves)" })
    .output(z.array(ApiKeyOutput))
    .query(({ ctx }) => ctx.services.apiKeys.list()),

  revoke: adminProcedure
    .meta({ summary: "Revoke an API key" })
    .input(ApiKeyIdInput)
    .output(SuccessOutput)
    .mutation(async ({ ctx, input }) => {
      await ctx.services.apiKeys.revoke(input.id);
      return { success: true as const };
    }),
});
