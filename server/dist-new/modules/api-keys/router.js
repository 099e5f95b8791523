import { z } from "zod";
import { SuccessOutput } from "../../shared/schemas.js";
import { adminProcedure, router } from "../../trpc/init.js";
import { ApiKeyCreated, ApiKeyCreateInput, ApiKeyIdInput, ApiKeyOutput } from "./schemas.js";
export const apiKeysRouter = router({
    create: adminProcedure
        .input(ApiKeyCreateInput)
        .output(ApiKeyCreated)
        .mutation(({ ctx, input }) => ctx.services.apiKeys.create(input, ctx.principal.id)),
    list: adminProcedure.output(z.array(ApiKeyOutput)).query(({ ctx }) => ctx.services.apiKeys.list()),
    revoke: adminProcedure
        .input(ApiKeyIdInput)
        .output(SuccessOutput)
        .mutation(async ({ ctx, input }) => {
        await ctx.services.apiKeys.revoke(input.id);
        return { success: true };
    }),
});
//# sourceMappingURL=router.js.map