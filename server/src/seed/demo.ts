import type { Config } from "../config.js";
import type { Db } from "../infra/database/db.js";
import type { Logger } from "../infra/logger.js";
import { RegisterInput } from "../modules/auth/schemas.js";
import { MarketCreateInput } from "../modules/markets/schemas.js";
import { OrderCreateInput } from "../modules/orders/schemas.js";
import { PostCreateInput } from "../modules/posts/schemas.js";
import { ProductCreateInput } from "../modules/products/schemas.js";
import type { Services } from "../services.js";
import type { Principal } from "../shared/principal.js";
import {
  DEMO_MARKETS,
  DEMO_ORDERS,
  DEMO_POSTS,
  DEMO_USERS,
  type DemoUser,
  type UserKey,
} from "./demo-data.js";

type UserPrincipal = Principal & { kind: "user" };

export interface DemoCounts {
  users: number;
  markets: number;
  products: number;
  orders: number;
  posts: number;
}

export interface DemoSeedReport {
  /** What this run created. */
  readonly created: DemoCounts;
  /** What was already there and left alone. */
  readonly existing: DemoCounts;
  /** Orders this run could not place because their market is no longer ACTIVE. */
  readonly skippedOrders: number;
  readonly accounts: readonly { email: string; password: string; role: "USER" | "ADMIN" }[];
}

const zero = (): DemoCounts => ({ users: 0, markets: 0, products: 0, orders: 0, posts: 0 });

export function createdAnything(report: DemoSeedReport): boolean {
  return Object.values(report.created).some((n) => n > 0);
}

export interface SeedDeps {
  readonly services: Services;
  /** Read-only lookups of what exists; every write goes through `services`. */
  readonly db: Db;
}

/**
 * The demo marketplace: a few accounts, markets in every status with products, orders (one
 * of them cancelled) and posts (some unpublished). Everything is created through the
 * services, as the API would create it, so stock, volume, visibility and events follow the
 * business rules. Each item has a natural key (an email, an owner + name, a buyer +
 * idempotency key, an author + title) and is created only when missing, so running the seed
 * again changes nothing and a run that stopped half-way is completed by the next one.
 */
export async function seedDemo({ services, db }: SeedDeps): Promise<DemoSeedReport> {
  const created = zero();
  const existing = zero();
  let skippedOrders = 0;

  const userIds = new Map<UserKey, string>();
  const principals = new Map<UserKey, UserPrincipal>();
  const signIn = async (accessToken: string, key: UserKey): Promise<UserPrincipal> => {
    const principal = await services.auth.authenticateAccessToken(accessToken);
    if (principal?.kind !== "user") throw new Error(`Could not authenticate the demo account ${key}`);
    principals.set(key, principal);
    return principal;
  };
  // An account that already existed is signed in only when something must be created in its
  // name, so a run with nothing to do writes nothing (a login would create a session).
  const actAs = async (key: UserKey): Promise<UserPrincipal> => {
    const known = principals.get(key);
    if (known) return known;
    const user = demoUser(key);
    const session = await services.auth.login(user.email, user.password).catch(() => {
      throw new Error(
        `The demo account ${user.email} exists but does not accept the demo password, so no demo data can be added in its name`,
      );
    });
    return signIn(session.tokens.accessToken, key);
  };
  const idOf = (key: UserKey): string => {
    const id = userIds.get(key);
    if (id === undefined) throw new Error(`demo user ${key} missing`);
    return id;
  };

  for (const user of DEMO_USERS) {
    const found = await db.user.findUnique({ where: { email: user.email }, select: { id: true } });
    if (found) {
      userIds.set(user.key, found.id);
      existing.users += 1;
      continue;
    }
    const registered = await services.auth.register(
      RegisterInput.parse({
        email: user.email,
        username: user.username,
        name: user.name,
        password: user.password,
      }),
    );
    userIds.set(user.key, registered.user.id);
    if (user.role === "ADMIN") await services.users.setRole(null, registered.user.id, "ADMIN");
    // Authenticated after the promotion: the session check reads the role it has now.
    await signIn(registered.tokens.accessToken, user.key);
    created.users += 1;
  }

  const markets = new Map<string, { id: string; status: string; createdNow: boolean }>();
  const products = new Map<string, string>(); // `${market key}/${product name}` → id
  for (const market of DEMO_MARKETS) {
    const ownerId = idOf(market.owner);
    const found = await db.market.findFirst({
      where: { ownerId, name: market.name },
      select: { id: true, status: true },
      orderBy: { createdAt: "asc" },
    });
    if (found) {
      markets.set(market.key, { ...found, createdNow: false });
      existing.markets += 1;
    } else {
      const row = await services.markets.create(
        ownerId,
        MarketCreateInput.parse({
          name: market.name,
          description: market.description,
          status: market.status === "DRAFT" ? "DRAFT" : "ACTIVE",
        }),
      );
      markets.set(market.key, { id: row.id, status: row.status, createdNow: true });
      created.markets += 1;
    }
    const marketId = marketIdOf(markets, market.key);
    for (const product of market.products) {
      const foundProduct = await db.product.findFirst({
        where: { marketId, name: product.name },
        select: { id: true },
        orderBy: { createdAt: "asc" },
      });
      if (foundProduct) {
        products.set(`${market.key}/${product.name}`, foundProduct.id);
        existing.products += 1;
        continue;
      }
      const row = await services.products.create(
        await actAs(market.owner),
        ProductCreateInput.parse({ marketId, ...product }),
      );
      products.set(`${market.key}/${product.name}`, row.id);
      created.products += 1;
    }
  }

  for (const order of DEMO_ORDERS) {
    const found = await db.order.findUnique({
      where: { userId_idempotencyKey: { userId: idOf(order.buyer), idempotencyKey: order.key } },
      select: { id: true },
    });
    if (found) {
      existing.orders += 1;
      continue;
    }
    const market = markets.get(order.market);
    if (market?.status !== "ACTIVE") {
      skippedOrders += 1;
      continue;
    }
    const buyer = await actAs(order.buyer);
    const placed = await services.orders.create(
      buyer,
      OrderCreateInput.parse({
        marketId: market.id,
        idempotencyKey: order.key,
        items: order.items.map((item) => {
          const productId = products.get(`${order.market}/${item.product}`);
          if (productId === undefined) throw new Error(`demo product ${item.product} missing`);
          return { productId, quantity: item.quantity };
        }),
      }),
    );
    if (order.cancel) await services.orders.cancel(buyer, placed.id);
    created.orders += 1;
  }

  // Only markets this run created move on: a demo market someone changed since is theirs now.
  for (const market of DEMO_MARKETS) {
    const row = markets.get(market.key);
    if (!row?.createdNow || row.status === market.status) continue;
    await services.markets.update(await actAs(market.owner), row.id, { status: market.status });
  }

  for (const post of DEMO_POSTS) {
    const authorId = idOf(post.author);
    const found = await db.post.findFirst({ where: { authorId, title: post.title }, select: { id: true } });
    if (found) {
      existing.posts += 1;
      continue;
    }
    await services.posts.create(
      await actAs(post.author),
      PostCreateInput.parse({
        title: post.title,
        content: post.content,
        published: post.published,
        ...(post.market === undefined ? {} : { marketId: marketIdOf(markets, post.market) }),
      }),
    );
    created.posts += 1;
  }

  return {
    created,
    existing,
    skippedOrders,
    accounts: DEMO_USERS.map((u) => ({ email: u.email, password: u.password, role: u.role })),
  };
}

function demoUser(key: UserKey): DemoUser {
  const user = DEMO_USERS.find((u) => u.key === key);
  if (!user) throw new Error(`unknown demo user ${key}`);
  return user;
}

function marketIdOf(markets: ReadonlyMap<string, { id: string }>, key: string): string {
  const market = markets.get(key);
  if (!market) throw new Error(`demo market ${key} missing`);
  return market.id;
}

export function describeCounts(counts: DemoCounts): string {
  return `${counts.users} users, ${counts.markets} markets, ${counts.products} products, ${counts.orders} orders, ${counts.posts} posts`;
}

/** The lines that tell a person how to log in as each demo account. */
export function loginLines(report: DemoSeedReport): string[] {
  const width = Math.max(...report.accounts.map((a) => a.email.length));
  return report.accounts.map(
    (a) => `  ${a.email.padEnd(width)}  ${a.password}${a.role === "ADMIN" ? "  (admin)" : ""}`,
  );
}

/**
 * The server's first-start offer (SEED_DEMO): on a database with no users yet, other than
 * the ADMIN_EMAIL account the server has just ensured, seed the demo and say how to log in.
 */
export async function seedDemoOnFirstStart(deps: SeedDeps & { config: Config; log: Logger }): Promise<void> {
  const { config, log, db } = deps;
  if (!config.seedDemo) return;
  const users = await db.user.count({
    where: config.admin ? { email: { not: config.admin.email } } : {},
  });
  if (users > 0) {
    log.debug("SEED_DEMO: the database already has users, no demo data added");
    return;
  }
  log.info("first start: loading the demo marketplace (SEED_DEMO), a few seconds");
  const report = await seedDemo(deps);
  if (config.env === "production") {
    // The demo passwords are public: a production log only names the accounts.
    log.warn(
      { accounts: report.accounts.map((a) => a.email) },
      "demo data seeded (SEED_DEMO=true): its accounts use the public demo passwords; change or delete them",
    );
    return;
  }
  // One line: the logs are JSON, where line breaks would show as "\n".
  const logins = report.accounts
    .map((a) => `${a.email} / ${a.password}${a.role === "ADMIN" ? " (admin)" : ""}`)
    .join(", ");
  log.info(`demo data seeded (${describeCounts(report.created)}); log in as ${logins}`);
}
