import { z } from "zod";
import { PASSWORD_RESET_QUEUE } from "./modules/auth/service.js";
import { ORDER_CONFIRMATION_QUEUE } from "./modules/orders/service.js";
export const CLEANUP_QUEUE = "auth-cleanup";
/**
 * The background jobs and what runs them. Payloads are read back from the database, so each
 * handler validates its own before acting on it.
 */
export function defineJobs(services, config, log) {
    const { jobs } = services;
    jobs.define({
        name: PASSWORD_RESET_QUEUE,
        handler: async (data) => {
            const { userId } = z.object({ userId: z.string() }).parse(data);
            await services.auth.sendPasswordResetMail(userId);
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
//# sourceMappingURL=jobs.js.map