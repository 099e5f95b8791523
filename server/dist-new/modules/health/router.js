import { z } from "zod";
import { publicProcedure, router } from "../../trpc/init.js";
export const healthRouter = router({
    live: publicProcedure
        .output(z.object({ status: z.literal("ok") }))
        .query(() => ({ status: "ok" })),
    ready: publicProcedure
        .output(z.object({
        status: z.enum(["ok", "degraded"]),
        checks: z.object({ database: z.enum(["up", "down"]), redis: z.enum(["up", "down", "embedded"]) }),
    }))
        .query(({ ctx }) => ctx.services.health.readiness()),
});
//# sourceMappingURL=router.js.map