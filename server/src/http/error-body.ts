import type { ServerResponse } from "node:http";

/**
 * An error no procedure answered (an unknown path, a refused scrape, a failure before routing)
 * in the shape every surface answers errors with (docs/rest.md):
 * `{ code, message, data: { code, httpStatus, path, requestId, fieldErrors, stock } }`.
 */
export function errorBody(
  code: string,
  httpStatus: number,
  message: string,
  requestId: string | undefined,
): string {
  const data = { code, httpStatus, path: null, requestId: requestId ?? null, fieldErrors: null, stock: null };
  return JSON.stringify({ code, message, data });
}

/** Writes such an error as the whole answer. */
export function sendErrorBody(
  res: ServerResponse,
  code: string,
  httpStatus: number,
  message: string,
  requestId: string | undefined,
): void {
  res.statusCode = httpStatus;
  res.setHeader("content-type", "application/json; charset=utf-8");
  res.end(errorBody(code, httpStatus, message, requestId));
}
