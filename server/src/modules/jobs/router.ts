import { z } from "zod";
import { adminProcedure, router } from "../../trpc/init.js";

const QueueCounts = z.object({
  queue: z.string(),
  created: z.number().int(),
  retry: z.number().int(),
  active: z.number().int(),
  completed: z.number().int(),
  failed: z.number().int(),
  cancelled: z.number().int(),
});

export const jobsRouter = router({
  /**
   * Jobs per queue and state. `failed` counts jobs whose retries ran out; each also waits in
   * the `dead-letter` queue for someone to look at it.
   */
  stats: adminProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/jobs/stats",
        tags: ["jobs"],
        summary: "Background jobs per queue and state (admin)",
        description:
          "`failed` counts jobs whose retries ran out; each also waits in the `dead-letter` queue.",
      },
    })
    .output(z.object({ queues: z.array(QueueCounts), failed: z.number().int() }))
    .query(async ({ ctx }) => {
      const queues = await ctx.services.jobs.counts();
      return { queues, failed: queues.reduce((sum, q) => sum + q.failed, 0) };
    }),
});
