import { z } from "zod";
import { ValidationError } from "./errors.js";
import { unstorableTextReason } from "./text.js";

export const PageInput = z.object({
  limit: z.number().int().min(1).max(100).default(20).describe("Items per page, 1 to 100"),
  cursor: z
    .string()
    .min(1)
    .max(500)
    .optional()
    .describe("The previous page's nextCursor, to fetch the page after it; omit for the first page"),
});
export type PageInput = z.infer<typeof PageInput>;

const NextCursor = z
  .string()
  .nullable()
  .describe("Pass it as `cursor` to fetch the next page; null on the last page");

export function pageOutput<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item).describe("This page's items"), nextCursor: NextCursor });
}

export function pageOutputWithTotal<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item).describe("This page's items"),
    nextCursor: NextCursor,
    total: z.number().int().describe("How many items match the filters, on every page together"),
  });
}

/**
 * Keyset cursors: the sort value and id of the last row, base64url-encoded JSON. Opaque to
 * clients; stable under inserts because the next page starts strictly after that row.
 */
function encodeCursor(values: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(values)).toString("base64url");
}

function decodeCursor(cursor: string): (string | number)[] | null {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(parsed) && parsed.every((v) => typeof v === "string" || typeof v === "number")) {
      return parsed;
    }
    return null;
  } catch {
    return null;
  }
}

/**
 * The page and next cursor from `limit + 1` fetched rows: one extra row tells whether
 * there is a next page without a second query.
 */
export function keysetPage<T>(
  rows: T[],
  limit: number,
  cursorOf: (last: T) => readonly (string | number)[],
): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(cursorOf(last)) : null,
  };
}

/**
 * Decodes a cursor made by `keysetPage` for a list whose cursors start with `tag` (which
 * names the list and its sort, so a cursor from another sort is refused, not misread).
 * Returns the string values after the tag, or null without a cursor.
 */
export function readCursor(cursor: string | undefined, tag: string, arity: number): string[] | null {
  if (cursor === undefined) return null;
  const values = decodeCursor(cursor);
  if (
    !values ||
    values.length !== arity + 1 ||
    values[0] !== tag ||
    !values.every((v): v is string => typeof v === "string" && unstorableTextReason(v) === null)
  ) {
    throw new ValidationError({ cursor: ["Invalid cursor"] });
  }
  return values.slice(1);
}

/** A timestamp out of a cursor, refusing anything that is not one or that no row can have. */
export function cursorDate(value: string | undefined): Date {
  const date = value === undefined ? new Date(Number.NaN) : new Date(value);
  // Years 1 to 9999: what PostgreSQL's timestamp and ISO-8601 both hold (JavaScript allows ±275760).
  const year = date.getUTCFullYear();
  if (Number.isNaN(date.getTime()) || year < 1 || year > 9999) {
    throw new ValidationError({ cursor: ["Invalid cursor"] });
  }
  return date;
}

const MAX_BIGINT = 2n ** 63n - 1n;

/** A non-negative 64-bit integer (as PostgreSQL's bigint) out of a cursor, as its decimal text. */
export function cursorBigint(value: string): string {
  if (!/^\d{1,19}$/.test(value) || BigInt(value) > MAX_BIGINT) {
    throw new ValidationError({ cursor: ["Invalid cursor"] });
  }
  return value;
}
