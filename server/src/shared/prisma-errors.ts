import { Prisma } from "../generated/prisma/client.js";

/** P2002 (or 23505 from node-postgres directly): a unique constraint refused the write. */
export function isUniqueViolation(error: unknown): boolean {
  if (error instanceof Prisma.PrismaClientKnownRequestError) return error.code === "P2002";
  return sqlState(error) === "23505";
}

/** P2025: the row an update or delete needed does not exist. */
export function isRecordNotFound(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2025";
}

/** P2003: a foreign key refused the write (e.g. deleting a row others still point at). */
export function isForeignKeyViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2003";
}

/** Prisma's codes for "the database could not be reached or stopped answering". */
const UNREACHABLE_PRISMA_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024"]);
/** PostgreSQL and socket codes that mean the server is down, restarting or full, not that the query is wrong. */
const UNREACHABLE_PG_CODES = /^(08|57P0[1-3]$|53300$|57014$)/;
const UNREACHABLE_SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
]);
const UNREACHABLE_MESSAGE =
  /Can't reach database server|Connection terminated|connection (is|was) (closed|terminated)|ECONNREFUSED|ECONNRESET|the database system is (starting up|shutting down)|terminating connection due to administrator command|Query read timeout|not queryable|timeout exceeded when trying to connect|canceling statement due to statement timeout/i;

/**
 * Whether an error says the database is unreachable (down, restarting, out of connections) or
 * too busy to serve the call in time (a transaction that could not start or finish), rather
 * than that a query was wrong: calls failing this way answer SERVICE_UNAVAILABLE.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof Prisma.PrismaClientInitializationError) return true;
  if (error instanceof Prisma.PrismaClientKnownRequestError) {
    if (UNREACHABLE_PRISMA_CODES.has(error.code)) return true;
    const state = sqlState(error);
    if (state !== undefined && UNREACHABLE_PG_CODES.test(state)) return true;
    // A transaction that could not get a connection or finish in time: rolled back, retryable.
    if (error.code === "P2028")
      return /in the given time|already closed|expired|timeout/i.test(error.message);
    // Raw queries wrap the driver's failure in P2010 with its message.
    return error.code === "P2010" && UNREACHABLE_MESSAGE.test(error.message);
  }
  // Socket codes first: "EPIPE" is also five capitals, like a SQLSTATE.
  if (error instanceof Error && "code" in error && typeof error.code === "string") {
    if (UNREACHABLE_SOCKET_CODES.has(error.code)) return true;
  }
  const state = sqlState(error);
  if (state !== undefined) return UNREACHABLE_PG_CODES.test(state);
  return error instanceof Error && UNREACHABLE_MESSAGE.test(error.message);
}

/** The SQLSTATE of a database error, from node-postgres directly or through Prisma's driver adapter. */
function sqlState(error: unknown): string | undefined {
  const isState = (code: unknown): code is string => typeof code === "string" && /^[0-9A-Z]{5}$/.test(code);
  if (error instanceof Prisma.PrismaClientKnownRequestError) {
    const adapter = (
      error.meta as { driverAdapterError?: { cause?: { originalCode?: unknown } } } | undefined
    )?.driverAdapterError;
    const code = adapter?.cause?.originalCode;
    return isState(code) ? code : undefined;
  }
  if (!(error instanceof Error)) return undefined;
  // node-postgres's DatabaseError carries it as `code`; Prisma's DriverAdapterError in its cause.
  if ("code" in error && isState(error.code)) return error.code;
  const cause = error.cause as { originalCode?: unknown; code?: unknown } | undefined;
  if (cause && typeof cause === "object") {
    if (isState(cause.originalCode)) return cause.originalCode;
    if (isState(cause.code)) return cause.code;
  }
  return undefined;
}

/**
 * Whether the database refused a value itself (SQLSTATE class 22, "data exception": text with
 * NUL, a number or date out of its type's range) or the query engine could not encode it. Input
 * validation refuses these first (shared/text.ts, cursor checks); this is the net under it, so a
 * value that slips through is the caller's BAD_REQUEST, not a 500.
 */
export function isInvalidValue(error: unknown): boolean {
  if (sqlState(error)?.startsWith("22")) return true;
  return (
    error instanceof Prisma.PrismaClientUnknownRequestError &&
    /JSON Error: (unexpected end of hex escape|lone leading surrogate|invalid unicode code point)/i.test(
      error.message,
    )
  );
}
