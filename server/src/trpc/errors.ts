import { TRPCError } from "@trpc/server";
import { ZodError } from "zod";
import { DomainError, ValidationError } from "../shared/errors.js";
import { isForeignKeyViolation, isRecordNotFound, isUniqueViolation } from "../shared/prisma-errors.js";

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
  return null;
}

/** The `data.fieldErrors` of an error, when it is a validation error. */
export function fieldErrorsFromCause(cause: unknown): Record<string, string[]> | undefined {
  if (cause instanceof ZodError) return fieldErrorsOf(cause);
  if (cause instanceof ValidationError) return cause.fieldErrors;
  return undefined;
}
