import type { Prisma } from "../../generated/prisma/client.js";
import type { Db, Tx } from "../../infra/database/db.js";
import type { Sql } from "../../infra/database/sql.js";
import type { Mailer } from "../../infra/mailer.js";
import { ConflictError, ForbiddenError, NotFoundError } from "../../shared/errors.js";
import { cursorDate, keysetPage, readCursor, type PageInput } from "../../shared/pagination.js";
import type { Principal } from "../../shared/principal.js";
import { isUniqueViolation } from "../../shared/prisma-errors.js";
import { canManageMarket, canSeeMarket } from "../markets/policy.js";
import { canCancelOrder, canSeeOrder } from "./policy.js";
import { ORDER_CONFIRMATION_QUEUE } from "../../shared/job-queues.js";
import type { MarketEvents } from "../markets/events.js";
import { lockMarket, type MarketService } from "../markets/service.js";
import { placeOrder, selectConfirmation, type Placement } from "./place.js";
import { orderInclude, toOrder, type OrderRow } from "./presenter.js";
import type { OrderCreateInput, OrderListForMarketInput, OrderOutput } from "./schemas.js";

type UserPrincipal = Principal & { kind: "user" };

/** The queue of the buyer's confirmation mail, enqueued by the transaction that places the order. */

export interface OrderPageResult {
  items: OrderOutput[];
  nextCursor: string | null;
}

/**
 * Orders, all-or-nothing. Lock order, the same in every writer, so they cannot deadlock:
 * the market row first (FOR NO KEY UPDATE: orders of one market queue there, which they
 * would anyway on its volume), then its products.
 */
export class OrderService {
  constructor(
    private readonly db: Db,
    private readonly events: MarketEvents,
    private readonly markets: MarketService,
    private readonly sql: Sql,
    private readonly mailer: Mailer,
  ) {}

  async create(viewer: UserPrincipal, input: OrderCreateInput): Promise<OrderOutput> {
    let placed: Placement;
    try {
      placed = await placeOrder(this.sql, viewer.id, input, ORDER_CONFIRMATION_QUEUE);
    } catch (error) {
      // The same key raced us in another market and won: its order is the answer (ours rolled
      // back entirely). In the same market the function finds it itself after the lock.
      const key = input.idempotencyKey;
      if (key !== undefined && isUniqueViolation(error)) {
        const existing = await this.byKey(viewer.id, key);
        if (existing) return toOrder(existing);
      }
      throw error;
    }
    switch (placed.outcome) {
      case "existing":
        return placed.order;
      case "no_market":
        throw new NotFoundError("Market");
      case "inactive":
        if (!canSeeMarket(viewer, placed.market)) throw new NotFoundError("Market");
        throw new ConflictError(`The market is ${placed.market.status}, not ACTIVE`);
      case "placed":
        break;
    }
    const { order, volumeCents } = placed;
    await this.markets.ordersChanged(
      order.marketId,
      order.items.map((i) => i.productId),
    );
    await this.events.publish(order.marketId, {
      type: "order.placed",
      orderId: order.id,
      marketVolumeCents: Number(volumeCents),
      volumeCents: Number(volumeCents),
    });
    return order;
  }

  private byKey(userId: string, idempotencyKey: string): Promise<OrderRow | null> {
    return this.db.order.findUnique({
      where: { userId_idempotencyKey: { userId, idempotencyKey } },
      include: orderInclude,
    });
  }

  /** The buyer, the market's owner and admins may see an order. */
  async byId(viewer: Principal, id: string): Promise<OrderOutput> {
    const row = await this.db.order.findUnique({
      where: { id },
      include: { ...orderInclude, market: { select: { ownerId: true } } },
    });
    if (!row || !canSeeOrder(viewer, { userId: row.userId, marketOwnerId: row.market.ownerId })) {
      throw new NotFoundError("Order");
    }
    const { market: _market, ...order } = row;
    return toOrder(order);
  }

  async listMine(viewer: UserPrincipal, input: PageInput): Promise<OrderPageResult> {
    return this.page({ userId: viewer.id }, input, "orders:mine");
  }

  async listForMarket(viewer: Principal, input: OrderListForMarketInput): Promise<OrderPageResult> {
    const market = await this.db.market.findUnique({
      where: { id: input.marketId },
      select: { ownerId: true, status: true },
    });
    if (!market || !canSeeMarket(viewer, market)) throw new NotFoundError("Market");
    if (!canManageMarket(viewer, market)) {
      throw new ForbiddenError("Only the market's owner or an admin may list its orders");
    }
    return this.page({ marketId: input.marketId }, input, "orders:market");
  }

  private async page(where: Prisma.OrderWhereInput, input: PageInput, tag: string): Promise<OrderPageResult> {
    const after = readCursor(input.cursor, tag, 2);
    const rows = await this.db.order.findMany({
      where: after
        ? {
            AND: [
              where,
              {
                OR: [
                  { createdAt: { lt: cursorDate(after[0]) } },
                  { createdAt: cursorDate(after[0]), id: { lt: after[1] } },
                ],
              },
            ],
          }
        : where,
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: input.limit + 1,
      include: orderInclude,
    });
    const page = keysetPage(rows, input.limit, (last) => [tag, last.createdAt.toISOString(), last.id]);
    return { ...page, items: page.items.map(toOrder) };
  }

  /** Buyer or admin. Restocks and lowers the volume exactly once: the status flip is the guard. */
  async cancel(viewer: Principal, id: string): Promise<OrderOutput> {
    const { order, marketId } = await this.db.$transaction(async (tx) => {
      const head = await tx.order.findUnique({
        where: { id },
        select: { userId: true, marketId: true, market: { select: { ownerId: true } } },
      });
      if (!head) throw new NotFoundError("Order");
      const access = { userId: head.userId, marketOwnerId: head.market.ownerId };
      if (!canCancelOrder(viewer, access)) {
        if (canSeeOrder(viewer, access)) {
          throw new ForbiddenError("Only the buyer or an admin may cancel an order");
        }
        throw new NotFoundError("Order");
      }
      await lockMarket(tx, head.marketId, "FOR NO KEY UPDATE");
      const flipped = await tx.order.updateMany({
        where: { id, status: "CONFIRMED" },
        data: { status: "CANCELLED", cancelledAt: new Date() },
      });
      if (flipped.count !== 1) throw new ConflictError("The order is already cancelled");
      await tx.$executeRaw`
        UPDATE products AS p SET stock = p.stock + i.quantity
        FROM order_items AS i
        WHERE i.order_id = ${id} AND p.id = i.product_id`;
      const cancelled = await tx.order.findUniqueOrThrow({ where: { id }, include: orderInclude });
      await addVolume(tx, head.marketId, -cancelled.totalCents);
      return { order: cancelled, marketId: head.marketId };
    });
    await this.markets.ordersChanged(
      marketId,
      order.items.map((i) => i.productId),
    );
    const market = await this.markets.find(marketId);
    if (market) await this.events.publish(marketId, { type: "market.updated", market });
    return toOrder(order);
  }

  /**
   * The job behind ORDER_CONFIRMATION_QUEUE: mails the buyer what they ordered. One statement
   * (every order has one job: through Prisma's includes it was five queries per order).
   */
  async sendConfirmation(orderId: string): Promise<void> {
    const order = await selectConfirmation(this.sql, orderId);
    if (!order) return; // nothing left to confirm
    const lines = order.lines.map(
      (i) => `- ${String(i.quantity)} x ${i.name} at ${formatCents(i.unitPriceCents)}`,
    );
    await this.mailer.send({
      to: order.email,
      subject: `Your Agora order ${order.id}`,
      text:
        `Hello ${order.username},\n\nThank you for your order ${order.id} in "${order.marketName}":\n\n` +
        `${lines.join("\n")}\n\nTotal: ${formatCents(BigInt(order.totalCents))}\n`,
    });
  }
}

function formatCents(cents: number | bigint): string {
  const value = BigInt(cents);
  const sign = value < 0n ? "-" : "";
  const abs = value < 0n ? -value : value;
  return `${sign}${String(abs / 100n)}.${String(abs % 100n).padStart(2, "0")}`;
}

async function addVolume(tx: Tx, marketId: string, deltaCents: bigint): Promise<bigint> {
  const rows = await tx.$queryRaw<{ volumeCents: bigint }[]>`
    UPDATE markets SET volume_cents = volume_cents + ${deltaCents}
    WHERE id = ${marketId}
    RETURNING volume_cents AS "volumeCents"`;
  const row = rows[0];
  if (!row) throw new NotFoundError("Market");
  return row.volumeCents;
}
