import { z } from "zod";
import { ValidationError } from "./errors.js";
export const PageInput = z.object({
    limit: z.number().int().min(1).max(100).default(20),
    cursor: z.string().min(1).max(500).optional(),
});
export function pageOutput(item) {
    return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}
export function pageOutputWithTotal(item) {
    return z.object({ items: z.array(item), nextCursor: z.string().nullable(), total: z.number().int() });
}
/**
 * Keyset cursors: the sort value and id of the last row, base64url-encoded JSON. Opaque to
 * clients; stable under inserts because the next page starts strictly after that row.
 */
function encodeCursor(values) {
    return Buffer.from(JSON.stringify(values)).toString("base64url");
}
function decodeCursor(cursor) {
    try {
        const parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
        if (Array.isArray(parsed) && parsed.every((v) => typeof v === "string" || typeof v === "number")) {
            return parsed;
        }
        return null;
    }
    catch {
        return null;
    }
}
/**
 * The page and next cursor from `limit + 1` fetched rows: one extra row tells whether
 * there is a next page without a second query.
 */
export function keysetPage(rows, limit, cursorOf) {
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
export function readCursor(cursor, tag, arity) {
    if (cursor === undefined)
        return null;
    const values = decodeCursor(cursor);
    if (!values ||
        values.length !== arity + 1 ||
        values[0] !== tag ||
        !values.every((v) => typeof v === "string")) {
        throw new ValidationError({ cursor: ["Invalid cursor"] });
    }
    return values.slice(1);
}
/** A timestamp out of a cursor, refusing anything that is not one. */
export function cursorDate(value) {
    const date = value === undefined ? new Date(Number.NaN) : new Date(value);
    if (Number.isNaN(date.getTime()))
        throw new ValidationError({ cursor: ["Invalid cursor"] });
    return date;
}
//# sourceMappingURL=pagination.js.map