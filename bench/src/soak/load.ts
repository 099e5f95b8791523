import { randomUUID } from "node:crypto";
import { sleep } from "../procs.js";
import { digString, type SoakClient } from "./client.js";
import type { Stats } from "./stats.js";
import { Subscription } from "./subscription.js";

const PASSWORD = "SoakPassw0rd";
/** Accounts 0..SELLERS-1 own the hot markets; the others buy from them. */
const ACCOUNTS = 8;
const SELLERS = 4;
const PRODUCTS_PER_HOT_MARKET = 3;
const EXTRA_MARKETS_PER_SELLER = 5;
/** Bounds on what the load remembers, so its own memory stays flat however long it runs. */
const MAX_KNOWN_MARKETS = 2_000;
const MAX_RECENT_ORDERS = 500;
const MAX_CANCELLED = 100;
/** How long the streams get, after the last call, to deliver its event. */
const DELIVERY_GRACE_MS = 3_000;

interface Account {
  id: string;
  access: string;
  refresh: string;
  refreshing: boolean;
}

type Status = "DRAFT" | "ACTIVE" | "CLOSED";

interface KnownMarket {
  id: string;
  owner: Account;
  /** As the server last acknowledged it. */
  status: Status;
  /** A status change is in flight (one at a time). */
  moving?: boolean;
}

interface HotMarket {
  id: string;
  owner: Account;
  productIds: string[];
}

interface PlacedOrder {
  id: string;
  marketId: string;
  buyer: Account;
}

export interface LoadOptions {
  /** Calls started per second (open loop: the schedule does not wait for answers). */
  rate: number;
  /** A call due while this many are in flight is skipped and counted (the server is behind). */
  maxInFlight: number;
  /** Live markets.onEvent streams kept open. */
  subscriptions: number;
  /** Every this often, a quarter of the streams are closed and reopened from their last event. */
  reopenEveryMs: number;
}

interface Op {
  name: string;
  weight: number;
  run: () => Promise<void>;
}

const random = <T>(items: readonly T[]): T => {
  const item = items[Math.floor(Math.random() * items.length)];
  if (item === undefined) throw new Error("unreachable: random pick from an empty list");
  return item;
};
const chance = (p: number) => Math.random() < p;

/** Appends, dropping the oldest entries beyond `max`. */
function pushBounded<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}

/**
 * The mixed load of the soak: reads (markets.list, markets.byId, users.me, products.list),
 * writes (markets.create/update, posts.create), orders on a few hot products with some
 * cancels, token refreshes, a few deliberately bad calls whose error is expected, and live
 * markets.onEvent streams, some of them reopened periodically.
 */
export class SoakLoad {
  private readonly ops: Op[];
  private readonly totalWeight: number;
  private readonly subscriptions: Subscription[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly knownMarkets: KnownMarket[] = [];
  private readonly recentOrders: PlacedOrder[] = [];
  private readonly cancelled: PlacedOrder[] = [];
  private listCursor: string | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private reopener: NodeJS.Timeout | null = null;
  private reopening: Promise<void> = Promise.resolve();
  private startedAt = 0;
  private scheduled = 0;
  private serial = 0;

  private constructor(
    private readonly client: SoakClient,
    private readonly stats: Stats,
    private readonly options: LoadOptions,
    private readonly accounts: Account[],
    private readonly hot: HotMarket[],
    markets: KnownMarket[],
  ) {
    this.knownMarkets.push(...markets);
    this.ops = this.defineOps();
    this.totalWeight = this.ops.reduce((sum, op) => sum + op.weight, 0);
  }

  /**
   * Creates what the load works on, through the API (so both database modes get the same):
   * 8 accounts, 4 ACTIVE "hot" markets with 3 products each (stock 1,000,000) and 5 more
   * markets per seller. `setupClient` records into statistics of its own, not the run's.
   */
  static async setup(
    setupClient: SoakClient,
    setupStats: Stats,
    client: SoakClient,
    stats: Stats,
    options: LoadOptions,
  ): Promise<SoakLoad> {
    const must = async (op: string, call: Promise<unknown>): Promise<unknown> => {
      const result = await call;
      if (result === null || result === undefined) {
        const errors = [...setupStats.unexpected].map(([k, v]) => `${k}: ${v.example}`).join("; ");
        throw new Error(`setting up the soak: ${op} failed: ${errors}`);
      }
      return result;
    };
    const tag = Date.now().toString(36);
    const accounts = await Promise.all(
      Array.from({ length: ACCOUNTS }, async (_, i): Promise<Account> => {
        const out = await must(
          "auth.register",
          setupClient.mutation("auth.register", {
            email: `soak-${tag}-${i}@soak.example`,
            username: `soak_${tag}_${i}`,
            password: PASSWORD,
          }),
        );
        const id = digString(out, "user", "id");
        const access = digString(out, "tokens", "accessToken");
        const refresh = digString(out, "tokens", "refreshToken");
        if (!id || !access || !refresh) throw new Error("auth.register answered without a user or tokens");
        return { id, access, refresh, refreshing: false };
      }),
    );
    const createMarket = async (owner: Account, name: string, status: "DRAFT" | "ACTIVE") => {
      const out = await must(
        "markets.create",
        setupClient.mutation(
          "markets.create",
          { name, description: `${name}: created by the soak`, status },
          { token: owner.access },
        ),
      );
      const id = digString(out, "id");
      if (!id) throw new Error("markets.create answered without an id");
      return id;
    };
    const hot: HotMarket[] = [];
    const markets: KnownMarket[] = [];
    for (const [i, owner] of accounts.slice(0, SELLERS).entries()) {
      const id = await createMarket(owner, `Soak hot market ${i}`, "ACTIVE");
      const productIds: string[] = [];
      for (let j = 0; j < PRODUCTS_PER_HOT_MARKET; j += 1) {
        const out = await must(
          "products.create",
          setupClient.mutation(
            "products.create",
            { marketId: id, name: `Soak product ${j}`, priceCents: 100 + 37 * i + 11 * j, stock: 1_000_000 },
            { token: owner.access },
          ),
        );
        const productId = digString(out, "id");
        if (!productId) throw new Error("products.create answered without an id");
        productIds.push(productId);
      }
      hot.push({ id, owner, productIds });
      for (let k = 0; k < EXTRA_MARKETS_PER_SELLER; k += 1) {
        const status = k % 3 === 2 ? "DRAFT" : "ACTIVE";
        markets.push({ id: await createMarket(owner, `Soak market ${i}-${k}`, status), owner, status });
      }
    }
    return new SoakLoad(client, stats, options, accounts, hot, markets);
  }

  get buyers(): Account[] {
    return this.accounts.slice(SELLERS);
  }

  private defineOps(): Op[] {
    const c = this.client;
    const anyToken = () => random(this.accounts).access;
    return [
      // Reads.
      {
        name: "markets.list",
        weight: 16,
        run: async () => {
          const variant = Math.floor(Math.random() * 6);
          if (variant === 5 && this.listCursor) {
            await c.query("markets.list", { limit: 20, cursor: this.listCursor });
            return;
          }
          const input = [
            { limit: 20 },
            { status: "ACTIVE" },
            { sort: "volume" },
            { sort: "name", order: "asc", limit: 50 },
            { search: `market ${Math.floor(Math.random() * SELLERS)}` },
            { limit: 20 },
          ][variant];
          const page = await c.query("markets.list", input, chance(0.3) ? { token: anyToken() } : {});
          if (variant === 0) this.listCursor = digString(page, "nextCursor");
        },
      },
      {
        name: "markets.byId",
        weight: 16,
        run: async () => {
          const market = random(this.knownMarkets);
          // A DRAFT is visible to its owner only: ask as the owner.
          const token = market.status === "DRAFT" ? market.owner.access : chance(0.5) ? anyToken() : null;
          await c.query("markets.byId", { id: market.id }, { token });
        },
      },
      {
        name: "users.me",
        weight: 12,
        run: async () => {
          await c.query("users.me", undefined, { token: anyToken() });
        },
      },
      {
        name: "products.list",
        weight: 10,
        run: async () => {
          await c.query("products.list", { marketId: random(this.hot).id, limit: 20 });
        },
      },
      // Writes.
      {
        name: "markets.create",
        weight: 5,
        run: async () => {
          const owner = random(this.accounts);
          const status = chance(0.5) ? "DRAFT" : "ACTIVE";
          const name = `Soak market ${(this.serial += 1)}`;
          const out = await c.mutation(
            "markets.create",
            { name, description: `${name}, created under load`, status },
            { token: owner.access },
          );
          const id = digString(out, "id");
          if (id) pushBounded(this.knownMarkets, { id, owner, status }, MAX_KNOWN_MARKETS);
        },
      },
      {
        name: "markets.update",
        weight: 6,
        run: async () => {
          if (chance(0.5)) {
            // A hot market: its subscribers get market.updated.
            const market = random(this.hot);
            await this.publishing(market.id, () =>
              c.mutation(
                "markets.update",
                { id: market.id, data: { description: `Updated at ${new Date().toISOString()}` } },
                { token: market.owner.access },
              ),
            );
            return;
          }
          const market = random(this.knownMarkets);
          const data: { name: string; status?: Status } = {
            name: `Soak market renamed ${(this.serial += 1)}`,
          };
          // One status move at a time per market. The bookkeeping follows the server only once the
          // move is acknowledged: until then a concurrent read may still find the old status (a
          // DRAFT is NOT_FOUND to anyone but its owner), so readers go on treating it as the old one.
          let next: Status | undefined;
          if (!market.moving) {
            if (market.status === "DRAFT" && chance(0.5)) next = "ACTIVE";
            else if (market.status === "ACTIVE" && chance(0.1)) next = "CLOSED";
          }
          if (next) {
            data.status = next;
            market.moving = true;
          }
          try {
            const out = await c.mutation(
              "markets.update",
              { id: market.id, data },
              { token: market.owner.access },
            );
            // null: the call failed (and was recorded); the status stays as it was.
            if (next && out !== null) market.status = next;
          } finally {
            if (next) market.moving = false;
          }
        },
      },
      {
        name: "posts.create",
        weight: 6,
        run: async () => {
          const market = random(this.hot);
          await this.publishing(market.id, () =>
            c.mutation(
              "posts.create",
              {
                title: `Soak post ${(this.serial += 1)}`,
                content: "Written by the soak while it loads the server.",
                marketId: market.id,
              },
              { token: anyToken() },
            ),
          );
        },
      },
      // Orders: a few hot products, every order contending on the same rows.
      {
        name: "orders.create",
        weight: 14,
        run: async () => {
          const buyer = random(this.buyers);
          const market = random(this.hot);
          const first = Math.floor(Math.random() * market.productIds.length);
          const ids = chance(0.3)
            ? [market.productIds[first], market.productIds[(first + 1) % market.productIds.length]]
            : [market.productIds[first]];
          const items = ids
            .filter((id): id is string => id !== undefined)
            .map((productId) => ({ productId, quantity: 1 + Math.floor(Math.random() * 3) }));
          const out = await this.publishing(market.id, () =>
            c.mutation(
              "orders.create",
              { marketId: market.id, items, ...(chance(0.2) ? { idempotencyKey: randomUUID() } : {}) },
              { token: buyer.access },
            ),
          );
          const id = digString(out, "id");
          if (id) pushBounded(this.recentOrders, { id, marketId: market.id, buyer }, MAX_RECENT_ORDERS);
        },
      },
      {
        name: "orders.cancel",
        weight: 4,
        run: async () => {
          const order = this.recentOrders.splice(Math.floor(Math.random() * this.recentOrders.length), 1)[0];
          if (!order) return;
          // A cancel announces the market's new volume (market.updated).
          const out = await this.publishing(order.marketId, () =>
            c.mutation("orders.cancel", { id: order.id }, { token: order.buyer.access }),
          );
          if (out !== null) pushBounded(this.cancelled, order, MAX_CANCELLED);
        },
      },
      // Token refresh, one at a time per account (a refresh token is single use).
      {
        name: "auth.refresh",
        weight: 1,
        run: async () => {
          const account = this.accounts.find((a) => !a.refreshing && chance(0.3));
          if (!account) return;
          account.refreshing = true;
          try {
            const out = await c.mutation("auth.refresh", { refreshToken: account.refresh });
            const access = digString(out, "accessToken");
            const refresh = digString(out, "refreshToken");
            if (access && refresh) Object.assign(account, { access, refresh });
          } finally {
            account.refreshing = false;
          }
        },
      },
      // Deliberately bad calls: each must get its error, never a 5xx (error paths leak too).
      {
        name: "markets.byId",
        weight: 1,
        run: async () => {
          await c.query(
            "markets.byId",
            { id: `soak-missing-${(this.serial += 1)}` },
            { expect: "NOT_FOUND" },
          );
        },
      },
      {
        name: "markets.create",
        weight: 1,
        run: async () => {
          await c.mutation("markets.create", { name: "   " }, { token: anyToken(), expect: "BAD_REQUEST" });
        },
      },
      {
        name: "users.me",
        weight: 1,
        run: async () => {
          await c.query("users.me", undefined, { expect: "UNAUTHORIZED" });
        },
      },
      {
        name: "orders.cancel",
        weight: 1,
        run: async () => {
          const order = this.cancelled[Math.floor(Math.random() * this.cancelled.length)];
          if (!order) return;
          await c.mutation(
            "orders.cancel",
            { id: order.id },
            { token: order.buyer.access, expect: "CONFLICT" },
          );
        },
      },
    ];
  }

  /**
   * Runs a call that publishes one event on `marketId` when it succeeds: the streams of that
   * market established before the call started must each receive it.
   */
  private async publishing(marketId: string, call: () => Promise<unknown>): Promise<unknown> {
    const watchers = this.subscriptions.filter((s) => s.marketId === marketId && s.established);
    const out = await call();
    if (out !== null && out !== undefined) for (const s of watchers) s.expected += 1;
    return out;
  }

  private pick(): Op {
    let r = Math.random() * this.totalWeight;
    for (const op of this.ops) {
      r -= op.weight;
      if (r < 0) return op;
    }
    return random(this.ops);
  }

  start(): void {
    this.startedAt = performance.now();
    for (let i = 0; i < this.options.subscriptions; i += 1) {
      const market = this.hot[i % this.hot.length];
      if (!market) break;
      // Half anonymous, half as a buyer: both paths of the visibility check.
      const token = i % 2 === 0 ? null : (this.buyers[i % this.buyers.length]?.access ?? null);
      const subscription = new Subscription(this.client, this.stats, market.id, token);
      subscription.open();
      this.subscriptions.push(subscription);
    }
    this.ticker = setInterval(() => {
      this.tick();
    }, 10);
    this.reopener = setInterval(() => {
      this.reopening = this.reopening.then(() => this.reopenSome());
    }, this.options.reopenEveryMs);
  }

  private tick(): void {
    const due = Math.floor(((performance.now() - this.startedAt) / 1000) * this.options.rate);
    while (this.scheduled < due) {
      this.scheduled += 1;
      if (this.inFlight.size >= this.options.maxInFlight) {
        this.stats.skip();
        continue;
      }
      const op = this.pick();
      this.track(
        op.run().catch((error: unknown) => {
          this.stats.recordError(op.name, {
            kind: "error",
            code: "LOAD_ERROR",
            status: 0,
            detail: error instanceof Error ? (error.stack ?? error.message) : String(error),
          });
        }),
      );
    }
  }

  private track(promise: Promise<void>): void {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise));
  }

  private async reopenSome(): Promise<void> {
    const count = Math.ceil(this.subscriptions.length / 4);
    const picked = [...this.subscriptions].sort(() => Math.random() - 0.5).slice(0, count);
    await Promise.all(picked.map((s) => s.reopen()));
  }

  /** Stops scheduling, waits for the calls in flight, then closes every stream. */
  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    if (this.reopener) clearInterval(this.reopener);
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    await this.reopening;
    // Events of the last calls may still be on their way.
    const deadline = performance.now() + DELIVERY_GRACE_MS;
    while (performance.now() < deadline && this.subscriptions.some((s) => s.events < s.expected))
      await sleep(100);
    for (const s of this.subscriptions) {
      if (s.events < s.expected) {
        this.stats.recordError("markets.onEvent", {
          kind: "error",
          code: "SSE_MISSED_EVENTS",
          status: 200,
          detail: `a stream of market ${s.marketId} received ${s.events} events of the ${s.expected} committed since it opened`,
        });
      }
    }
    await Promise.all(this.subscriptions.map((s) => s.close()));
  }

  summary(): { subscriptions: number; opens: number; events: number; expected: number; calls: number } {
    const sum = (f: (s: Subscription) => number) => this.subscriptions.reduce((total, s) => total + f(s), 0);
    return {
      subscriptions: this.subscriptions.length,
      opens: sum((s) => s.opens),
      events: sum((s) => s.events),
      expected: sum((s) => s.expected),
      calls: this.scheduled,
    };
  }
}
