import { createHash } from "node:crypto";
import type pg from "pg";

/**
 * Typed SQL for the hottest reads, on the same pool Prisma uses.
 *
 * Prisma compiles every query in its Wasm query compiler and then interprets the plan: on a
 * one-row read that is most of the request's CPU (see bench/README). The reads that every
 * page view makes (a market, a page of markets, a user, a product, a session) and the order
 * placement (one call of the `place_order` function) are written once as SQL, each a single
 * statement, and run as named prepared statements, so PostgreSQL parses and plans each text
 * once per connection. Other writes and everything else stay on Prisma. Each query's rows are
 * declared next to it; timestamps are read `AT TIME ZONE 'UTC'` (Prisma stores UTC in
 * `timestamp` columns) so they come back as correct `Date`s whatever the session's time zone.
 */
export type SqlValue = string | number | boolean | Date | null | readonly string[] | readonly number[];

export class Sql {
  private readonly names = new Map<string, string>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: {
      /**
       * Named prepared statements. Off for the embedded database: PGlite is one session behind
       * its socket, so statements prepared on a connection outlive it, and a new connection's
       * client would prepare them again ("already exists").
       */
      prepare: boolean;
      /** Told of every statement sent (what tests count; Prisma's own go through its query events). */
      observe?: (text: string) => void;
    },
  ) {}

  /** Runs `text` as a prepared statement named after its text. */
  async rows<Row extends pg.QueryResultRow>(text: string, values: readonly SqlValue[]): Promise<Row[]> {
    this.options.observe?.(text);
    if (!this.options.prepare) return (await this.pool.query<Row>(text, [...values])).rows;
    let name = this.names.get(text);
    if (name === undefined) {
      name = `q_${createHash("sha1").update(text).digest("hex").slice(0, 16)}`;
      this.names.set(text, name);
    }
    return (await this.pool.query<Row>({ name, text, values: [...values] })).rows;
  }
}

/** A `timestamp` column's value for comparisons: its UTC wall time, as Prisma stores it. */
export function utcTimestamp(date: Date): string {
  return date.toISOString().replace("Z", "");
}

/** `value` for a LIKE pattern that matches it literally (no wildcards of its own). */
export function likeLiteral(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}
