import { likeLiteral, utcTimestamp, type Sql, type SqlValue } from "../../infra/database/sql.js";
import { ValidationError } from "../../shared/errors.js";
import { cursorBigint, cursorDate, keysetPage, readCursor } from "../../shared/pagination.js";
import type { Principal } from "../../shared/principal.js";
import { visibleMarketsSql } from "./policy.js";
import { toMarket, type MarketRecord } from "./presenter.js";
import type { MarketListInput, MarketOutput } from "./schemas.js";

/** The hot reads of markets as single SQL statements (see infra/database/sql.ts for why). */

const COLUMNS = `m.id, m.name, m.description, m.status::text AS status,
  m.volume_cents::text AS "volumeCents", m.owner_id AS "ownerId", u.username AS "ownerUsername",
  m.created_at AT TIME ZONE 'UTC' AS "createdAt", m.updated_at AT TIME ZONE 'UTC' AS "updatedAt"`;

/** A row of COLUMNS, as `toMarket` reads it. */
type MarketSqlRow = MarketRecord & { volumeCents: string };

export async function selectMarket(sql: Sql, id: string): Promise<MarketOutput | null> {
  const rows = await sql.rows<MarketSqlRow>(
    `SELECT ${COLUMNS} FROM markets m JOIN users u ON u.id = m.owner_id WHERE m.id = $1`,
    [id],
  );
  const row = rows[0];
  return row ? toMarket(row) : null;
}

const SORT_COLUMN = { createdAt: "m.created_at", volume: "m.volume_cents", name: "m.name" } as const;

export interface MarketPage {
  items: MarketOutput[];
  nextCursor: string | null;
  total: number;
}

/**
 * One page of `markets.list`, keyset-paginated like every list (the cursor holds the sort
 * value and id of the last row), and the total of the filter.
 */
export async function selectMarketPage(
  sql: Sql,
  viewer: Principal | null,
  input: MarketListInput,
): Promise<MarketPage> {
  const values: SqlValue[] = [];
  const param = (value: SqlValue) => {
    values.push(value);
    return `$${String(values.length)}`;
  };
  const filters: string[] = [];
  const visible = visibleMarketsSql(viewer, param);
  if (visible !== null) filters.push(visible);
  if (input.status) filters.push(`m.status = ${param(input.status)}::"MarketStatus"`);
  if (input.ownerId) filters.push(`m.owner_id = ${param(input.ownerId)}`);
  if (input.search) {
    const pattern = param(`%${likeLiteral(input.search)}%`);
    filters.push(`(m.name ILIKE ${pattern} OR m.description ILIKE ${pattern})`);
  }
  const filterValues = [...values];
  const where = (extra: string[]) => {
    const all = [...filters, ...extra];
    return all.length > 0 ? `WHERE ${all.join(" AND ")}` : "";
  };

  const tag = `markets:${input.sort}:${input.order}`;
  const after = readCursor(input.cursor, tag, 2);
  const column = SORT_COLUMN[input.sort];
  const dir = input.order === "desc" ? "DESC" : "ASC";
  const beyond = input.order === "desc" ? "<" : ">";
  const keyset: string[] = [];
  if (after) {
    const [value, id] = after;
    if (value === undefined || id === undefined) throw new ValidationError({ cursor: ["Invalid cursor"] });
    let bound: string;
    if (input.sort === "createdAt") bound = `${param(utcTimestamp(cursorDate(value)))}::timestamp`;
    else if (input.sort === "volume") bound = `${param(cursorBigint(value))}::bigint`;
    else bound = param(value);
    const idParam = param(id);
    keyset.push(`(${column} ${beyond} ${bound} OR (${column} = ${bound} AND m.id ${beyond} ${idParam}))`);
  }
  const limit = param(input.limit + 1);
  const from = "FROM markets m JOIN users u ON u.id = m.owner_id";
  const order = `ORDER BY ${column} ${dir}, m.id ${dir}`;

  // Two statements, concurrently: the page stops after limit + 1 rows of an index, which a
  // window count over the same statement would prevent (it must see every matching row).
  const [rows, counted] = await Promise.all([
    sql.rows<MarketSqlRow>(`SELECT ${COLUMNS} ${from} ${where(keyset)} ${order} LIMIT ${limit}`, values),
    sql.rows<{ total: number }>(`SELECT count(*)::int AS total FROM markets m ${where([])}`, filterValues),
  ]);
  const total = counted[0]?.total ?? 0;
  const page = keysetPage(rows, input.limit, (last) => [tag, sortValue(input.sort, last), last.id]);
  return { items: page.items.map(toMarket), nextCursor: page.nextCursor, total };
}

function sortValue(sort: MarketListInput["sort"], row: MarketSqlRow): string {
  switch (sort) {
    case "createdAt":
      return row.createdAt.toISOString();
    case "volume":
      return row.volumeCents;
    case "name":
      return row.name;
  }
}
