import { randomBytes } from "node:crypto";
import bcrypt from "bcryptjs";
import pg from "pg";

export const USERS = 100;
export const MARKETS = 2_000;
export const PRODUCTS_PER_MARKET = 3;
/** Buyers of the orders.create scenario, and the tokens users.me is called with. */
export const BUYERS = 16;
/** Buyers of the single-hot-market scenario (the first BUYERS of them are the buyers above). */
export const HOT_BUYERS = 32;
/** The handful of markets every order goes to, so orders contend on their rows. */
export const HOT_MARKETS = 4;
export const BENCH_PASSWORD = "BenchPassw0rd";

export interface Credentials {
  id: string;
  email: string;
}

export interface SeedData {
  userIds: string[];
  /** ACTIVE and CLOSED markets: what anyone may read. */
  visibleMarketIds: string[];
  buyers: Credentials[];
  /** HOT_BUYERS users (buyers first), who never own a hot market. */
  hotBuyers: Credentials[];
  /** The user the event-loop test logs in as: its hash has the production cost (12). */
  loginUser: Credentials;
  hotMarkets: { marketId: string; productIds: string[] }[];
  counts: { users: number; markets: number; products: number };
}

/** An id shaped like Prisma's cuid(): the same length and alphabet, so indexes see the same keys. */
function cuidLike(): string {
  let s = "c";
  for (const byte of randomBytes(24)) s += (byte % 36).toString(36);
  return s;
}

/**
 * The same data for every server: 100 users, 2,000 markets (80% ACTIVE, 10% DRAFT, 10%
 * CLOSED), three products each. One INSERT ... SELECT FROM unnest(...) per table.
 */
export async function seed(url: string, loginCost: number): Promise<SeedData> {
  // Buyers log in once (cheap hash); the event-loop user's hash has the production cost, since
  // bcrypt's work on login is set by the stored hash, not by the server's BCRYPT_COST.
  const cheapHash = await bcrypt.hash(BENCH_PASSWORD, 4);
  const costlyHash = await bcrypt.hash(BENCH_PASSWORD, loginCost);
  const now = Date.now();

  const users = Array.from({ length: USERS }, (_, i) => ({
    id: cuidLike(),
    email: `user${i}@bench.example.com`,
    username: `bench_user_${i}`,
    name: `Bench User ${i}`,
    hash: i === 0 ? costlyHash : cheapHash,
    createdAt: new Date(now - (USERS - i) * 60_000),
  }));
  const markets = Array.from({ length: MARKETS }, (_, i) => {
    const owner = users[i % USERS];
    if (!owner) throw new Error("unreachable: owner index out of range");
    return {
      id: cuidLike(),
      name: `Market ${i}`,
      description: `Seeded market number ${i}: stalls, produce and crafts from the bench data set.`,
      status: i % 10 === 0 ? "DRAFT" : i % 10 === 1 ? "CLOSED" : "ACTIVE",
      volumeCents: String((i * 7919) % 1_000_000),
      ownerId: owner.id,
      createdAt: new Date(now - (MARKETS - i) * 1_000),
    };
  });
  // Markets 2..5 are ACTIVE and owned by users 2..5; buyers are users 50..81, never owners of them.
  const hotIndexes = Array.from({ length: HOT_MARKETS }, (_, k) => k + 2);
  const products = markets.flatMap((m, i) =>
    Array.from({ length: PRODUCTS_PER_MARKET }, (_, j) => ({
      id: cuidLike(),
      marketId: m.id,
      name: `Product ${j} of market ${i}`,
      priceCents: 100 + ((i * 31 + j * 17) % 10_000),
      stock: hotIndexes.includes(i) ? 1_000_000 : 1_000,
      createdAt: new Date(m.createdAt.getTime() + j),
    })),
  );

  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("BEGIN");
    await client.query(
      `INSERT INTO users (id, email, username, username_lower, name, password_hash, role, created_at, updated_at)
       SELECT id, email, username, lower(username), name, hash, 'USER', created_at, created_at
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamp[])
         AS t(id, email, username, name, hash, created_at)`,
      [
        users.map((u) => u.id),
        users.map((u) => u.email),
        users.map((u) => u.username),
        users.map((u) => u.name),
        users.map((u) => u.hash),
        users.map((u) => u.createdAt.toISOString()),
      ],
    );
    await client.query(
      `INSERT INTO markets (id, name, description, status, volume_cents, owner_id, created_at, updated_at)
       SELECT id, name, description, status::"MarketStatus", volume::bigint, owner_id, created_at, created_at
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamp[])
         AS t(id, name, description, status, volume, owner_id, created_at)`,
      [
        markets.map((m) => m.id),
        markets.map((m) => m.name),
        markets.map((m) => m.description),
        markets.map((m) => m.status),
        markets.map((m) => m.volumeCents),
        markets.map((m) => m.ownerId),
        markets.map((m) => m.createdAt.toISOString()),
      ],
    );
    await client.query(
      `INSERT INTO products (id, market_id, name, price_cents, stock, created_at, updated_at)
       SELECT id, market_id, name, price, stock, created_at, created_at
       FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::timestamp[])
         AS t(id, market_id, name, price, stock, created_at)`,
      [
        products.map((p) => p.id),
        products.map((p) => p.marketId),
        products.map((p) => p.name),
        products.map((p) => p.priceCents),
        products.map((p) => p.stock),
        products.map((p) => p.createdAt.toISOString()),
      ],
    );
    await client.query("COMMIT");
    await client.query("ANALYZE");
  } finally {
    await client.end();
  }

  const loginUser = users[0];
  if (!loginUser) throw new Error("unreachable: no users");
  return {
    userIds: users.map((u) => u.id),
    visibleMarketIds: markets.filter((m) => m.status !== "DRAFT").map((m) => m.id),
    buyers: users.slice(50, 50 + BUYERS).map((u) => ({ id: u.id, email: u.email })),
    hotBuyers: users.slice(50, 50 + HOT_BUYERS).map((u) => ({ id: u.id, email: u.email })),
    loginUser: { id: loginUser.id, email: loginUser.email },
    hotMarkets: hotIndexes.map((i) => {
      const market = markets[i];
      if (!market) throw new Error("unreachable: hot market index out of range");
      return {
        marketId: market.id,
        productIds: products.filter((p) => p.marketId === market.id).map((p) => p.id),
      };
    }),
    counts: { users: users.length, markets: markets.length, products: products.length },
  };
}
