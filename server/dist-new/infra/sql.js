import { createHash } from "node:crypto";
export class Sql {
    pool;
    options;
    names = new Map();
    constructor(pool, options) {
        this.pool = pool;
        this.options = options;
    }
    /** Runs `text` as a prepared statement named after its text. */
    async rows(text, values) {
        this.options.observe?.(text);
        if (!this.options.prepare)
            return (await this.pool.query(text, [...values])).rows;
        let name = this.names.get(text);
        if (name === undefined) {
            name = `q_${createHash("sha1").update(text).digest("hex").slice(0, 16)}`;
            this.names.set(text, name);
        }
        return (await this.pool.query({ name, text, values: [...values] })).rows;
    }
}
/** A `timestamp` column's value for comparisons: its UTC wall time, as Prisma stores it. */
export function utcTimestamp(date) {
    return date.toISOString().replace("Z", "");
}
/** `value` for a LIKE pattern that matches it literally (no wildcards of its own). */
export function likeLiteral(value) {
    return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}
//# sourceMappingURL=sql.js.map