import { TRPCError } from "@trpc/server";
import { ZodError } from "zod";
import { DomainError, ValidationError } from "../shared/errors.js";
import {
  isDatabaseUnavailable,
  isForeignKeyViolation,
  isInvalidValue,
  isRecordNotFound,
  isUniqueViolation,
} from "../shared/prisma-errors.js";
import { isRedisUnavailable } from "../shared/redis-errors.js";

/** How long a client should wait before retrying a call that found the database unreachable. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/** Zod issues as `{ "path.to.field": ["message", ...] }`; root-level issues go under "_". */
function fieldErrorsOf(error: ZodError): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const issue of error.issues) {
    const key = issue.path.length > 0 ? issue.path.map(String).join(".") : "_";
    (out[key] ??= []).push(issue.message);
  }
  return out;
}

/** Turns what a service threw into the tRPC error the client sees; null for unknown errors. */
export function toTRPCError(error: unknown): TRPCError | null {
  if (error instanceof TRPCError) return error;
  if (error instanceof DomainError)
    return new TRPCError({ code: error.kind, message: error.message, cause: error });
  if (isUniqueViolation(error))
    return new TRPCError({ code: "CONFLICT", message: "Already exists", cause: error });
  if (isRecordNotFound(error))
    return new TRPCError({ code: "NOT_FOUND", message: "Not found", cause: error });
  if (isForeignKeyViolation(error)) {
    return new TRPCError({ code: "CONFLICT", message: "Still referenced by other records", cause: error });
  }
  if (isInvalidValue(error)) {
    return new TRPCError({
      code: "BAD_REQUEST",
      message: "A value in the input cannot be stored or compared",
      cause: error,
    });
  }
  if (isDatabaseUnavailable(error)) {
    return new TRPCError({
      code: "SERVICE_UNAVAILABLE",
      message: "The database is unavailable; retry shortly",
      cause: error,
    });
  }
  if (isRedisUnavailable(error)) {
    return new TRPCError({
      code: "SERVICE_UNAVAILABLE",
      message: "A service this call needs (Redis) is unavailable; retry shortly",
      cause: error,
    });
  }
  return null;
}

/** The `data.fieldErrors` of an error, when it is a validation error. */
export function fieldErrorsFromCause(cause: unknown): Record<string, string[]> | undefined {
  if (cause instanceof ZodError) return fieldErrorsOf(cause);
  if (cause instanceof ValidationError) return cause.fieldErrors;
  return undefined;
}
