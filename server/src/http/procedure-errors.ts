import type { TRPCError } from "@trpc/server";
import type { Logger } from "../infra/logger.js";
import { OverloadedError } from "../shared/errors.js";
import type { Context } from "../trpc/context.js";

/** At most one log line per this interval about calls refused for a full bcrypt queue. */
const OVERLOAD_LOG_INTERVAL_MS = 10_000;

export type ProcedureErrorListener = (failure: {
  error: TRPCError;
  path: string | undefined;
  ctx?: Context;
}) => void;

/**
 * What every adapter (tRPC's, the fast path, REST) tells the log about a failed procedure:
 * a fault in full; a database outage as a warning; a full bcrypt queue, which is load and not
 * a fault, as one line per interval with how many calls it refused since the last one, and no
 * stack. Refusals of the caller (4xx) are not logged here.
 */
export function procedureErrorLogger(log: Logger): ProcedureErrorListener {
  let overloadRefused = 0;
  let overloadLoggedAt = Number.NEGATIVE_INFINITY;
  const noteOverload = (error: OverloadedError, path: string | undefined) => {
    overloadRefused += 1;
    const now = Date.now();
    if (now - overloadLoggedAt < OVERLOAD_LOG_INTERVAL_MS) return;
    log.warn(
      { refused: overloadRefused, path, reason: error.message },
      "bcrypt queue is full: calls refused with SERVICE_UNAVAILABLE (PASSWORD_QUEUE_MAX)",
    );
    overloadLoggedAt = now;
    overloadRefused = 0;
  };
  return ({ error, path, ctx }) => {
    if (error.code === "INTERNAL_SERVER_ERROR") {
      log.error({ err: error.cause ?? error, path, requestId: ctx?.requestId }, "procedure failed");
    } else if (error.code === "SERVICE_UNAVAILABLE" && error.cause instanceof OverloadedError) {
      noteOverload(error.cause, path);
    } else if (error.code === "SERVICE_UNAVAILABLE") {
      log.warn({ err: error.cause ?? error, path, requestId: ctx?.requestId }, "database unavailable");
    }
  };
}
