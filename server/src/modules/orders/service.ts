import { Prisma } from "../../generated/prisma/client.js";
import type { Db, Tx } from "../../infra/database/db.js";
import type { JobQueue } from "../../infra/jobs.js";
import type { Mailer } from "../../infra/mailer.js";
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  StockConflictError,
  ValidationError,
} from "../../shared/errors.js";
import { cursorDate, keysetPage, readCursor, type PageInput } from "../../shared/pagination.js";
import { isAdmin, type Principal } from "../../shared/principal.js";
import { isUniqueViolation } from "../../shared/prisma-errors.js";
import { canManageMarket, canSeeMarket, isUser } from "../markets/access.js";
import { ORDER_CONFIRMATION_QUEUE } from "../../shared/job-queues.js";
import type { MarketEvents } from "../markets/events.js";
import { lockMarket, type MarketService } from "../markets/service.js";
import { orderInclude, type OrderRow } from "./presenter.js";
import type { OrderCreateInput, OrderListForMarketInput } from "./schemas.js";

type UserPrincipal = Principal & { kind: "user" };

/** The queue of the buyer's confirmation mail, enqueued by the transaction that places the order. */

export interface OrderPageResult {
  items: OrderRow[];
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
    private readonly jobs: JobQueue,
    private readonly mailer: Mailer,
  ) {}

  async create(viewer: UserPrincipal, input: OrderCreateInput): Promise<OrderRow> {
    const key = input.idempotencyKey;
    if (key !== undefined) {
      const existing = await this.byKey(viewer.id, key);
      if (existing) return existing;
    }
    let placed: { order: OrderRow; volumeCents: bigint };
    try {
      placed = await this.db.$transaction((tx) => this.place(tx, viewer, input));
    } catch (error) {
      // The same key raced us and won: its order is the answer (ours rolled back entirely).
      if (key !== undefined && isUniqueViolation(error)) {
        const existing = await this.byKey(viewer.id, key);
        if (existing) return existing;
      }
      throw error;
    }
    await this.markets.ordersChanged(
      placed.order.marketId,
      placed.order.items.map((i) => i.productId),
    );
    await this.events.publish(placed.order.marketId, {
      type: "order.placed",
      orderId: placed.order.id,
      marketVolumeCents: Number(placed.volumeCents),
      volumeCents: Number(placed.volumeCents),
    });
    return placed.order;
  }

  private async place(
    tx: Tx,
    viewer: UserPrincipal,
    input: OrderCreateInput,
  ): Promise<{ order: OrderRow; volumeCents: bigint }> {
    const market = await lockMarket(tx, input.marketId, "FOR NO KEY UPDATE");
    if (!market || !canSeeMarket(viewer, market)) throw new NotFoundError("Market");
    if (market.status !== "ACTIVE") throw new ConflictError(`The market is ${market.status}, not ACTIVE`);

    // One statement takes the stock of every line, and only where there is enough: a
    // conditional update, so concurrent orders can never drive stock below zero.
    const lines = Prisma.join(input.items.map((i) => Prisma.sql`(${i.productId}::text, ${i.quantity}::int)`));
    const taken = await tx.$queryRaw<{ id: string; priceCents: number }[]>`
      UPDATE products AS p SET stock = p.stock - v.quantity
      FROM (VALUES ${lines}) AS v(id, quantity)
      WHERE p.id = v.id AND p.market_id = ${input.marketId} AND p.stock >= v.quantity
      RETURNING p.id, p.price_cents AS "priceCents"`;
    if (taken.length !== input.items.length) await this.explainShortfall(tx, input, taken);

    const prices = new Map(taken.map((t) => [t.id, t.priceCents]));
    const items = input.items.map((i) => ({
      productId: i.productId,
      quantity: i.quantity,
      unitPriceCents: prices.get(i.productId) ?? 0,
    }));
    const totalCents = items.reduce((sum, i) => sum + BigInt(i.unitPriceCents) * BigInt(i.quantity), 0n);
    const order = await tx.order.create({
      data: {
        marketId: input.marketId,
        userId: viewer.id,
        totalCents,
        idempotencyKey: input.idempotencyKey ?? null,
        items: { createMany: { data: items } },
      },
      include: orderInclude,
    });
    const volumeCents = await addVolume(tx, input.marketId, totalCents);
    // Same transaction: the mail is owed exactly when the order exists, even if we crash next.
    await this.jobs.enqueue(tx, ORDER_CONFIRMATION_QUEUE, { orderId: order.id });
    return { order, volumeCents };
  }

  /** Some line was not taken: say which and why. Throwing rolls back what was taken. */
  private async explainShortfall(
    tx: Tx,
    input: OrderCreateInput,
    taken: readonly { id: string }[],
  ): Promise<never> {
    const takenIds = new Set(taken.map((t) => t.id));
    const missing = input.items.filter((i) => !takenIds.has(i.productId));
    const rows = await tx.product.findMany({
      where: { id: { in: missing.map((i) => i.productId) } },
      select: { id: true, name: true, marketId: true, stock: true },
    });
    const byId = new Map(rows.map((r) => [r.id, r]));
    const foreign: Record<string, string[]> = {};
    input.items.forEach((item, index) => {
      if (takenIds.has(item.productId)) return;
      const row = byId.get(item.productId);
      if (!row || row.marketId !== input.marketId) {
        foreign[`items.${index}.productId`] = ["No such product in this market"];
      }
    });
    if (Object.keys(foreign).length > 0) throw new ValidationError(foreign);
    const [first] = missing;
    if (!first) throw new Error("explainShortfall called with every line taken");
    const row = byId.get(first.productId);
    throw new StockConflictError(
      { productId: first.productId, available: row?.stock ?? 0, requested: first.quantity },
      row?.name ?? null,
    );
  }

  private byKey(userId: string, idempotencyKey: string): Promise<OrderRow | null> {
    return this.db.order.findUnique({
      where: { userId_idempotencyKey: { userId, idempotencyKey } },
      include: orderInclude,
    });
  }

  /** The buyer, the market's owner and admins may see an order. */
  async byId(viewer: Principal, id: string): Promise<OrderRow> {
    const row = await this.db.order.findUnique({
      where: { id },
      include: { ...orderInclude, market: { select: { ownerId: true } } },
    });
    if (!row || !(isAdmin(viewer) || isUser(viewer, row.userId) || isUser(viewer, row.market.ownerId))) {
      throw new NotFoundError("Order");
    }
    const { market: _market, ...order } = row;
    return order;
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
    return keysetPage(rows, input.limit, (last) => [tag, last.createdAt.toISOString(), last.id]);
  }

  /** Buyer or admin. Restocks and lowers the volume exactly once: the status flip is the guard. */
  async cancel(viewer: Principal, id: string): Promise<OrderRow> {
    const { order, marketId } = await this.db.$transaction(async (tx) => {
      const head = await tx.order.findUnique({
        where: { id },
        select: { userId: true, marketId: true, market: { select: { ownerId: true } } },
      });
      if (!head) throw new NotFoundError("Order");
      if (!isAdmin(viewer) && !isUser(viewer, head.userId)) {
        if (isUser(viewer, head.market.ownerId)) {
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
    return order;
  }

  /** The job behind ORDER_CONFIRMATION_QUEUE: mails the buyer what they ordered. */
  async sendConfirmation(orderId: string): Promise<void> {
    const order = await this.db.order.findUnique({
      where: { id: orderId },
      include: {
        user: { select: { email: true, username: true } },
        market: { select: { name: true } },
        items: { orderBy: { productId: "asc" }, include: { product: { select: { name: true } } } },
      },
    });
    if (!order) return; // nothing left to confirm
    const lines = order.items.map(
      (i) => `- ${String(i.quantity)} x ${i.product.name} at ${formatCents(i.unitPriceCents)}`,
    );
    await this.mailer.send({
      to: order.user.email,
      subject: `Your Agora order ${order.id}`,
      text:
        `Hello ${order.user.username},\n\nThank you for your order ${order.id} in "${order.market.name}":\n\n` +
        `${lines.join("\n")}\n\nTotal: ${formatCents(order.totalCents)}\n`,
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
