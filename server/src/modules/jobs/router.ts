import { z } from "zod";
import { adminProcedure, router } from "../../trpc/init.js";

const QueueCounts = z.object({
  queue: z.string().describe("The queue's name"),
  created: z.number().int().describe("Jobs waiting to run"),
  retry: z.number().int().describe("Jobs waiting to be retried after a failure"),
  active: z.number().int().describe("Jobs running now"),
  completed: z.number().int().describe("Jobs done (kept for a while)"),
  failed: z.number().int().describe("Jobs whose retries ran out"),
  cancelled: z.number().int().describe("Jobs cancelled"),
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
    .output(
      z.object({
        queues: z.array(QueueCounts).describe("One entry per queue"),
        failed: z.number().int().describe("Failed jobs in every queue together"),
      }),
    )
    .query(async ({ ctx }) => {
      const queues = await ctx.services.jobs.counts();
      return { queues, failed: queues.reduce((sum, q) => sum + q.failed, 0) };
    }),
});
