/**
 * The background jobs' queue names, apart from their handlers (jobs.ts) and from the services
 * that enqueue them: preparing the embedded template creates the queues without loading either.
 */
export const PASSWORD_RESET_QUEUE = "password-reset-mail";
export const ORDER_CONFIRMATION_QUEUE = "order-confirmation-mail";
export const CLEANUP_QUEUE = "auth-cleanup";

/** Every queue `defineJobs` defines (the embedded template is made with them). */
export const JOB_QUEUES: readonly string[] = [PASSWORD_RESET_QUEUE, ORDER_CONFIRMATION_QUEUE, CLEANUP_QUEUE];
