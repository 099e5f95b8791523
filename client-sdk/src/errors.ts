import { TRPCClientError } from "@trpc/client";
import type { AppRouter } from "./types.js";

/**
 * What every failed call throws. `data` is set when the server answered with an error;
 * it is undefined for transport failures (network down, aborted, unparsable response).
 */
export type AgoraError = TRPCClientError<AppRouter>;

/** `error.data` as the server formats it: code, HTTP status, path, request id, field errors. */
export type AgoraErrorData = NonNullable<AgoraError["data"]>;

/** A tRPC error code: "BAD_REQUEST", "UNAUTHORIZED", "NOT_FOUND", "CONFLICT", ... */
export type AgoraErrorCode = AgoraErrorData["code"];

/** An error the server answered with the given code; `data` is always present. */
export type AgoraErrorWithCode<C extends AgoraErrorCode> = AgoraError & {
  readonly data: AgoraErrorData & { readonly code: C };
};

function isClientError(error: unknown): error is AgoraError {
  // `instanceof` fails when an app ends up with two copies of @trpc/client; the name does not.
  return (
    error instanceof TRPCClientError ||
    (error instanceof Error && error.name === "TRPCClientError" && "shape" in error)
  );
}

/**
 * Narrows an unknown error to an Agora error. With a code, narrows further to an error the
 * server answered with that code, so `error.data.fieldErrors` needs no optional chaining.
 *
 * ```ts
 * if (isAgoraError(e, "BAD_REQUEST")) showFieldErrors(e.data.fieldErrors ?? {});
 * ```
 */
export function isAgoraError(error: unknown): error is AgoraError;
export function isAgoraError<C extends AgoraErrorCode>(
  error: unknown,
  code: C,
): error is AgoraErrorWithCode<C>;
export function isAgoraError(error: unknown, code?: AgoraErrorCode): boolean {
  if (!isClientError(error)) return false;
  return code === undefined || error.data?.code === code;
}

/** The server's error code, or null for a transport failure or a non-Agora error. */
export function agoraErrorCode(error: unknown): AgoraErrorCode | null {
  return isClientError(error) ? (error.data?.code ?? null) : null;
}
