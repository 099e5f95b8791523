import { expect } from "vitest";
import { isAgoraError, type AgoraError } from "@agora/client";

/** Awaits a call that must fail with the given tRPC code; returns the error for further checks. */
export async function expectError(call: Promise<unknown>, code: string): Promise<AgoraError> {
  let caught: unknown;
  try {
    await call;
  } catch (error) {
    caught = error;
  }
  if (!isAgoraError(caught)) {
    throw new Error(
      `expected a ${code} error, got ${caught === undefined ? "success" : caught instanceof Error ? caught.message : "a non-error value"}`,
    );
  }
  expect(caught.data?.code, caught.message).toBe(code);
  return caught;
}

/** The field errors of a BAD_REQUEST, asserting that each named field has at least one. */
export async function expectFieldErrors(
  call: Promise<unknown>,
  fields: string[],
): Promise<Record<string, string[]>> {
  const error = await expectError(call, "BAD_REQUEST");
  const fieldErrors = error.data?.fieldErrors ?? {};
  for (const field of fields) expect(fieldErrors[field], `fieldErrors.${field}`).toBeDefined();
  return fieldErrors;
}
