import type { Sql } from "../../infra/database/sql.js";
import { StockConflictError, ValidationError, type StockShortage } from "../../shared/errors.js";
import type { OrderCreateInput, OrderOutput } from "./schemas.js";

/**
 * orders.create in one round trip: the `place_order` function (migration
 * 20261206200000_place_order) locks the market row, checks it, takes the stock of every line
 * with a conditional update, inserts the order, its lines and the confirmation job and adds the
 * total to the market's volume, all in the one statement's transaction. The market's lock is
 * held for that statement's execution alone, not across round trips: orders of one market still
 * run one at a time, each now for a fraction of a millisecond.
 */
export type Placement =
  | { outcome: "placed"; order: OrderOutput; volumeCents: bigint }
  | { outcome: "existing"; order: OrderOutput }
  | { outcome: "no_market" }
  | { outcome: "inactive"; market: { ownerId: string; status: "DRAFT" | "CLOSED" } };

interface PlaceRow {
  outcome: "placed" | "existing" | "no_market" | "inactive";
  order_id: string | null;
  market_id: string | null;
  user_id: string | null;
  status: "CONFIRMED" | "CANCELLED" | null;
  total_cents: string | null;
  created_at: Date | null;
  items: OrderOutput["items"] | null;
  volume_cents: string | null;
  market_owner_id: string | null;
  market_status: "DRAFT" | "CLOSED" | null;
}

const PLACE_ORDER = "SELECT * FROM place_order($1, $2, $3::text[], $4::int[], $5, $6)";

/** SQLSTATEs `place_order` raises for a refused order (its transaction rolled back). */
const FOREIGN_LINES = "AGO01";
const SHORT_OF_STOCK = "AGO02";

export async function placeOrder(
  sql: Sql,
  userId: string,
  input: OrderCreateInput,
  queue: string,
): Promise<Placement> {
  let rows: PlaceRow[];
  try {
    rows = await sql.rows<PlaceRow>(PLACE_ORDER, [
      input.marketId,
      userId,
      input.items.map((i) => i.productId),
      input.items.map((i) => i.quantity),
      input.idempotencyKey ?? null,
      queue,
    ]);
  } catch (error) {
    throw refusal(error) ?? error;
  }
  const row = rows[0];
  if (!row) throw new Error("place_order returned no row");
  switch (row.outcome) {
    case "no_market":
      return { outcome: "no_market" };
    case "inactive":
      if (row.market_owner_id === null || row.market_status === null) break;
      return { outcome: "inactive", market: { ownerId: row.market_owner_id, status: row.market_status } };
    case "existing":
      return { outcome: "existing", order: toOutput(row) };
    case "placed":
      if (row.volume_cents === null) break;
      return { outcome: "placed", order: toOutput(row), volumeCents: BigInt(row.volume_cents) };
  }
  throw new Error(`place_order returned an incomplete ${row.outcome} row`);
}

function toOutput(row: PlaceRow): OrderOutput {
  const { order_id, market_id, user_id, status, total_cents, created_at, items } = row;
  if (
    order_id === null ||
    market_id === null ||
    user_id === null ||
    status === null ||
    total_cents === null ||
    created_at === null ||
    items === null
  ) {
    throw new Error("place_order returned an order without its columns");
  }
  return {
    id: order_id,
    marketId: market_id,
    userId: user_id,
    status,
    items,
    totalCents: Number(total_cents),
    createdAt: created_at,
  };
}

/** The domain error for a refusal `place_order` raised, or null for any other failure. */
function refusal(error: unknown): Error | null {
  if (!(error instanceof Error) || !("code" in error) || !("detail" in error)) return null;
  const detail = typeof error.detail === "string" ? error.detail : "";
  if (error.code === FOREIGN_LINES) {
    const indexes = JSON.parse(detail) as number[];
    return new ValidationError(
      Object.fromEntries(
        indexes.map((i) => [`items.${String(i)}.productId`, ["No such product in this market"]]),
      ),
    );
  }
  if (error.code === SHORT_OF_STOCK) {
    const { name, ...shortage } = JSON.parse(detail) as StockShortage & { name: string | null };
    return new StockConflictError(shortage, name);
  }
  return null;
}

/** What the confirmation mail of an order says, or null once the order is gone. */
export interface Confirmation {
  id: string;
  email: string;
  username: string;
  marketName: string;
  /** bigint as text: node-postgres reads int8 as a string. */
  totalCents: string;
  lines: { quantity: number; unitPriceCents: number; name: string }[];
}

const CONFIRMATION = `
  SELECT o.id, u.email, u.username, m.name AS "marketName", o.total_cents::text AS "totalCents",
    COALESCE((SELECT jsonb_agg(jsonb_build_object('quantity', i.quantity,
                'unitPriceCents', i.unit_price_cents, 'name', p.name) ORDER BY i.product_id)
              FROM order_items i JOIN products p ON p.id = i.product_id
              WHERE i.order_id = o.id), '[]'::jsonb) AS lines
  FROM orders o JOIN users u ON u.id = o.user_id JOIN markets m ON m.id = o.market_id
  WHERE o.id = $1`;

export async function selectConfirmation(sql: Sql, orderId: string): Promise<Confirmation | null> {
  const rows = await sql.rows<Confirmation>(CONFIRMATION, [orderId]);
  return rows[0] ?? null;
}
