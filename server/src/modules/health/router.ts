import { z } from "zod";
import { anonymousProcedure, router } from "../../trpc/init.js";

export const healthRouter = router({
  live: anonymousProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/health",
        tags: ["health"],
        summary: "The process answers",
      },
    })
    .output(z.object({ status: z.literal("ok").describe("Always ok: the process answers") }))
    .query(() => ({ status: "ok" as const })),
  ready: anonymousProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/health/ready",
        tags: ["health"],
        summary: "Whether the dependencies answer",
        description:
          "`degraded` when the database or Redis does not answer (the HTTP status is still 200: `GET /readyz` is the probe that answers 503).",
      },
    })
    .output(
      z.object({
        status: z.enum(["ok", "degraded"]).describe("ok: every check is up; degraded: one is down"),
        checks: z
          .object({
            database: z.enum(["up", "down"]).describe("Whether the database answers"),
            redis: z
              .enum(["up", "down", "embedded"])
              .describe("Whether Redis answers; embedded: no REDIS_URL, the in-process stand-ins are used"),
          })
          .describe("Each dependency's state"),
      }),
    )
    .query(({ ctx }) => ctx.services.health.readiness()),
});
