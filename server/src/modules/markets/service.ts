import { Prisma } from "../../generated/prisma/client.js";
import type { Cache } from "../../infra/cache/cache.js";
import type { Db, Tx } from "../../infra/database/db.js";
import type { Sql } from "../../infra/database/sql.js";
import { cacheGroups } from "../../shared/cache-groups.js";
import { ConflictError, ForbiddenError, NotFoundError } from "../../shared/errors.js";
import { isAdmin, type Principal } from "../../shared/principal.js";
import { canManageMarket, canSeeMarket, type MarketAccess } from "./policy.js";
import type { MarketEvent, MarketEvents } from "./events.js";
import { marketInclude, recordOf, toMarket } from "./presenter.js";
import { selectMarket, selectMarketPage } from "./queries.js";
import type {
  MarketCreateInput,
  MarketListInput,
  MarketOutput,
  MarketStatus,
  MarketUpdateData,
} from "./schemas.js";

export interface MarketPageResult {
  items: MarketOutput[];
  nextCursor: string | null;
  total: number;
}

/** The columns visibility rules read, from a market as clients see it. */
export function accessOf(market: MarketOutput): MarketAccess {
  return { ownerId: market.owner.id, status: market.status };
}

/**
 * Who sees the same first page of `markets.list` for this input, as part of a cache key; null
 * when the page is not cached (later pages and searches are too varied to be worth it).
 * Visibility differs only in DRAFT markets: a filter that excludes them looks the same to
 * everyone; otherwise admins see all, a user also sees their own drafts, others see none.
 */
function listAudience(viewer: Principal | null, input: MarketListInput): string | null {
  if (input.cursor !== undefined || input.search !== undefined) return null;
  if (input.status === "ACTIVE" || input.status === "CLOSED") return "all";
  if (isAdmin(viewer)) return "admin";
  if (viewer?.kind === "user") return `user:${viewer.id}`;
  return "public";
}

/** DRAFT→ACTIVE, ACTIVE→CLOSED, DRAFT→CLOSED; CLOSED is final. */
const TRANSITIONS: Record<MarketStatus, readonly MarketStatus[]> = {
  DRAFT: ["ACTIVE", "CLOSED"],
  ACTIVE: ["CLOSED"],
  CLOSED: [],
};

/** Reads a market's access columns and locks the row against concurrent writers. */
export async function lockMarket(
  tx: Tx,
  id: string,
  mode: "FOR UPDATE" | "FOR NO KEY UPDATE",
): Promise<MarketAccess | null> {
  const rows = await tx.$queryRaw<MarketAccess[]>`
    SELECT owner_id AS "ownerId", status::text AS status FROM markets WHERE id = ${id} ${Prisma.raw(mode)}`;
  return rows[0] ?? null;
}

export class MarketService {
  constructor(
    private readonly db: Db,
    private readonly events: MarketEvents,
    private readonly cache: Cache,
    private readonly sql: Sql,
  ) {}

  async list(viewer: Principal | null, input: MarketListInput): Promise<MarketPageResult> {
    const audience = listAudience(viewer, input);
    if (audience === null) return this.loadPage(viewer, input);
    const key = [
      "markets",
      audience,
      input.status ?? "",
      input.ownerId ?? "",
      input.sort,
      input.order,
      input.limit,
    ].join(":");
    return this.cache.getOrLoad("markets.list", key, [cacheGroups.marketLists], () =>
      this.loadPage(viewer, input),
    );
  }

  private loadPage(viewer: Principal | null, input: MarketListInput): Promise<MarketPageResult> {
    return selectMarketPage(this.sql, viewer, input);
  }

  /** A market as anyone may get it from the cache; visibility is the caller's to check. */
  find(id: string): Promise<MarketOutput | null> {
    return this.cache.getOrLoad("market", `market:${id}`, [cacheGroups.market(id)], () =>
      selectMarket(this.sql, id),
    );
  }

  async byId(viewer: Principal | null, id: string): Promise<MarketOutput> {
    const market = await this.find(id);
    // Visibility is decided after the cache, per caller: a cached DRAFT stays its owner's.
    if (!market || !canSeeMarket(viewer, accessOf(market))) throw new NotFoundError("Market");
    return market;
  }

  async create(ownerId: string, input: MarketCreateInput): Promise<MarketOutput> {
    const row = await this.db.market.create({
      data: {
        name: input.name,
        description: input.description ?? null,
        status: input.status,
        ownerId,
      },
      include: marketInclude,
    });
    await this.cache.invalidate([cacheGroups.marketLists]);
    return toMarket(recordOf(row));
  }

  async update(viewer: Principal, id: string, data: MarketUpdateData): Promise<MarketOutput> {
    const market = await this.db.$transaction(async (tx) => {
      // FOR UPDATE waits for orders in flight (they hold the row FOR NO KEY UPDATE), so a
      // market never closes under an order that already saw it ACTIVE.
      const current = await lockMarket(tx, id, "FOR UPDATE");
      if (!current || !canSeeMarket(viewer, current)) throw new NotFoundError("Market");
      if (!canManageMarket(viewer, current))
        throw new ForbiddenError("Only the owner or an admin may do this");
      if (data.status !== undefined && data.status !== current.status) {
        if (!TRANSITIONS[current.status].includes(data.status)) {
          throw new ConflictError(`A ${current.status} market cannot become ${data.status}`);
        }
      }
      return tx.market.update({
        where: { id },
        data: {
          ...(data.name !== undefined ? { name: data.name } : {}),
          ...(data.description !== undefined ? { description: data.description } : {}),
          ...(data.status !== undefined ? { status: data.status } : {}),
        },
        include: marketInclude,
      });
    });
    const output = toMarket(recordOf(market));
    await this.cache.invalidate([cacheGroups.market(id), cacheGroups.marketLists]);
    await this.publish(market.id, { type: "market.updated", market: output });
    return output;
  }

  async delete(viewer: Principal, id: string): Promise<void> {
    await this.db.$transaction(async (tx) => {
      const current = await lockMarket(tx, id, "FOR UPDATE");
      if (!current || !canSeeMarket(viewer, current)) throw new NotFoundError("Market");
      if (!canManageMarket(viewer, current))
        throw new ForbiddenError("Only the owner or an admin may do this");
      const order = await tx.order.findFirst({ where: { marketId: id }, select: { id: true } });
      if (order) throw new ConflictError("A market with orders cannot be deleted; close it instead");
      // Products and posts of the market go with it (ON DELETE CASCADE).
      await tx.market.delete({ where: { id } });
    });
    await this.cache.invalidate([
      cacheGroups.market(id),
      cacheGroups.marketLists,
      cacheGroups.productsOf(id),
    ]);
  }

  /** A user's new username shows in every market they own. */
  async ownerRenamed(ownerId: string): Promise<void> {
    const owned = await this.db.market.findMany({ where: { ownerId }, select: { id: true } });
    await this.cache.invalidate([...owned.map((m) => cacheGroups.market(m.id)), cacheGroups.marketLists]);
  }

  /** After an order or a cancel: the market's volume and its products' stock changed. */
  async ordersChanged(marketId: string, productIds: readonly string[]): Promise<void> {
    await this.cache.invalidate([
      cacheGroups.market(marketId),
      cacheGroups.marketLists,
      cacheGroups.productsOf(marketId),
      ...productIds.map((id) => cacheGroups.product(id)),
    ]);
  }

  /**
   * Checks that the viewer may see the market now, then streams its events; and again with
   * each update of the market, ending the stream with NOT_FOUND once the viewer may not see it.
   */
  async subscribe(
    viewer: Principal | null,
    marketId: string,
    options: { lastEventId?: string | null; signal?: AbortSignal },
  ): Promise<AsyncIterable<{ id: string; event: MarketEvent }>> {
    await this.byId(viewer, marketId);
    const events = await this.events.subscribe(marketId, options);
    return (async function* () {
      for await (const item of events) {
        const event = item.event;
        if (event.type === "market.updated" && !canSeeMarket(viewer, accessOf(event.market))) {
          throw new NotFoundError("Market");
        }
        yield item;
      }
    })();
  }

  publish(marketId: string, event: MarketEvent): Promise<void> {
    return this.events.publish(marketId, event);
  }
}
