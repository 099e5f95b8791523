import { z } from "zod";

export const PageInput = z.object({
  limit: z.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(500).optional(),
});
export type PageInput = z.infer<typeof PageInput>;

export function pageOutput<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

export function pageOutputWithTotal<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable(), total: z.number().int() });
}

/**
 * Keyset cursors: the sort value and id of the last row, base64url-encoded JSON. Opaque to
 * clients; stable under inserts because the next page starts strictly after that row.
 */
export function encodeCursor(values: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(values)).toString("base64url");
}

export function decodeCursor(cursor: string): (string | number)[] | null {
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
