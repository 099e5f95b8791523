import { utcTimestamp, type Sql, type SqlValue } from "../../infra/database/sql.js";
import { cursorDate, keysetPage, readCursor } from "../../shared/pagination.js";
import type { ProductListInput, ProductOutput } from "./schemas.js";

/** The hot reads of products as single SQL statements (see infra/database/sql.ts for why). */

const COLUMNS = `id, market_id AS "marketId", name, description, price_cents AS "priceCents", stock,
  created_at AT TIME ZONE 'UTC' AS "createdAt", updated_at AT TIME ZONE 'UTC' AS "updatedAt"`;

export async function selectProduct(sql: Sql, id: string): Promise<ProductOutput | null> {
  const rows = await sql.rows<ProductOutput>(`SELECT ${COLUMNS} FROM products WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/** A page of a market's products, newest first, keyset-paginated. */
export async function selectProductPage(
  sql: Sql,
  input: ProductListInput,
): Promise<{ items: ProductOutput[]; nextCursor: string | null }> {
  const after = readCursor(input.cursor, "products", 2);
  const values: SqlValue[] = [input.marketId];
  let keyset = "";
  if (after) {
    values.push(utcTimestamp(cursorDate(after[0])), after[1] ?? "");
    keyset = "AND (created_at < $2::timestamp OR (created_at = $2::timestamp AND id < $3))";
  }
  values.push(input.limit + 1);
  const rows = await sql.rows<ProductOutput>(
    `SELECT ${COLUMNS} FROM products WHERE market_id = $1 ${keyset}
     ORDER BY created_at DESC, id DESC LIMIT $${String(values.length)}`,
    values,
  );
  return keysetPage(rows, input.limit, (last) => ["products", last.createdAt.toISOString(), last.id]);
}
