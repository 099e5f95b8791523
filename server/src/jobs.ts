import { z } from "zod";
import type { Config } from "./config.js";
import type { Logger } from "./infra/logger.js";
import type { Services } from "./services.js";
import { CLEANUP_QUEUE, ORDER_CONFIRMATION_QUEUE, PASSWORD_RESET_QUEUE } from "./shared/job-queues.js";

/**
 * The background jobs and what runs them. Payloads are read back from the database, so each
 * handler validates its own before acting on it.
 */
export function defineJobs(services: Services, config: Config, log: Logger): void {
  const { jobs } = services;
  jobs.define({
    name: PASSWORD_RESET_QUEUE,
    handler: async (data) => {
      // { email } since every request is enqueued; { userId } from jobs enqueued before that.
      const to = z.union([z.object({ email: z.string() }), z.object({ userId: z.string() })]).parse(data);
      await services.auth.sendPasswordResetMail(to);
    },
  });
  jobs.define({
    name: ORDER_CONFIRMATION_QUEUE,
    handler: async (data) => {
      const { orderId } = z.object({ orderId: z.string() }).parse(data);
      await services.orders.sendConfirmation(orderId);
    },
  });
  jobs.define({
    name: CLEANUP_QUEUE,
    cron: config.jobs.cleanupCron,
    handler: async () => {
      const removed = await services.auth.cleanupExpired();
      log.info({ removed }, "expired tokens and sessions cleaned up");
    },
  });
}
