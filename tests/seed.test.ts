import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgoraClient, type AgoraClient } from "@agora/client";
import {
  DEMO_MARKETS,
  DEMO_ORDERS,
  DEMO_POSTS,
  DEMO_USERS,
  loadConfig,
  startServer,
  type RunningServer,
} from "@agora/server/testing";
import { createTestDatabase, type TestDatabase } from "./support/database.js";
import { expectError } from "./support/errors.js";
import { ADMIN, startTestServer, TEST_JWT_SECRET, testServerEnv } from "./support/server.js";
import { loginAdmin } from "./support/people.js";

const repoRoot = path.resolve(import.meta.dirname, "..");

function demoAccount(key: string) {
  const user = DEMO_USERS.find((u) => u.key === key);
  if (!user) throw new Error(`no demo user ${key}`);
  return user;
}

/** `pnpm db:seed`, as a person runs it, against the given database. */
async function runSeed(dbEnv: Readonly<Record<string, string>>) {
  const redisUrl = process.env.REDIS_URL;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/tmp",
    NODE_ENV: "test",
    BCRYPT_COST: "4",
    PASSWORD_WORKERS: "1",
    ...(redisUrl
      ? { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `agora-seed-test:${process.pid.toString()}:` }
      : {}),
    ...dbEnv,
  };
  const child = spawn("pnpm", ["--silent", "db:seed"], {
    cwd: repoRoot,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  return { code, stdout, stderr };
}

/** A server on an existing database (the seed's), without the test admin or demo seeding. */
async function startOn(dbEnv: Readonly<Record<string, string>>, extra: Record<string, string> = {}) {
  const server = await startServer(
    loadConfig(testServerEnv({ PASSWORD_WORKERS: "1", RATE_LIMIT_ENABLED: "false", ...dbEnv, ...extra })),
  );
  // Demo seeding runs after the server listens; these tests look at its result.
  await server.demoSeeded;
  return server;
}

async function login(server: RunningServer, email: string, password: string) {
  const result = await createAgoraClient({ url: server.url }).auth.login.mutate({ email, password });
  const api = createAgoraClient({ url: server.url, getAccessToken: () => result.tokens.accessToken });
  return { ...result, api };
}

/** Everything the demo consists of, as an admin sees it through the API. */
async function snapshot(admin: AgoraClient) {
  const markets = (await admin.markets.list.query({ limit: 100, sort: "name", order: "asc" })).items;
  const detail = [];
  for (const market of markets) {
    const products = (await admin.products.list.query({ marketId: market.id, limit: 100 })).items;
    const orders = (await admin.orders.listForMarket.query({ marketId: market.id, limit: 100 })).items;
    detail.push({
      market: { name: market.name, status: market.status, volumeCents: market.volumeCents },
      products: products.map((p) => ({ id: p.id, name: p.name, priceCents: p.priceCents, stock: p.stock })),
      orders: orders.map((o) => ({ id: o.id, status: o.status, totalCents: o.totalCents, items: o.items })),
    });
  }
  const posts = (await admin.posts.list.query({ limit: 100 })).items.map((p) => ({
    title: p.title,
    published: p.published,
    marketId: p.marketId,
    author: p.author.username,
  }));
  const users = (await admin.users.list.query({ limit: 100 })).items.map((u) => ({
    email: u.email,
    role: u.role,
  }));
  return { detail, posts, users };
}

// Each test starts processes (the seed CLI, servers) on its own database.
const SLOW = 120_000;

describe("pnpm db:seed", () => {
  let db: TestDatabase;
  let firstRun: Awaited<ReturnType<typeof runSeed>>;
  let afterFirstRun: Awaited<ReturnType<typeof snapshot>>;

  beforeAll(async () => {
    db = await createTestDatabase();
    firstRun = await runSeed(db.env);
  });
  afterAll(async () => {
    await db.drop();
  });

  it(
    "seeds a fresh database with every kind of data and prints how to log in",
    async () => {
      expect(firstRun.code, firstRun.stderr).toBe(0);
      expect(firstRun.stdout).toContain("Demo data added");
      for (const user of DEMO_USERS) {
        expect(firstRun.stdout).toMatch(
          new RegExp(`${user.email.replace(/\./g, "\\.")}\\s+${user.password}`),
        );
      }

      const server = await startOn(db.env);
      try {
        // The printed credentials work, and the demo admin is an admin.
        for (const user of DEMO_USERS) {
          const session = await login(server, user.email, user.password);
          expect(session.user.role).toBe(user.role);
        }
        const admin = await login(server, demoAccount("admin").email, demoAccount("admin").password);
        afterFirstRun = await snapshot(admin.api);
        const { detail, posts } = afterFirstRun;

        // Markets in each status, each with its products.
        expect(new Set(detail.map((d) => d.market.status))).toEqual(new Set(["DRAFT", "ACTIVE", "CLOSED"]));
        expect(detail.map((d) => [d.market.name, d.market.status]).sort()).toEqual(
          DEMO_MARKETS.map((m) => [m.name, m.status]).sort(),
        );
        for (const market of DEMO_MARKETS) {
          const seeded = detail.find((d) => d.market.name === market.name);
          expect(seeded?.products.map((p) => p.name).sort()).toEqual(
            market.products.map((p) => p.name).sort(),
          );
        }

        // Orders went through the order service: prices captured, stock taken, volume added,
        // the cancelled one restocked and subtracted again.
        const orders = detail.flatMap((d) => d.orders);
        expect(orders).toHaveLength(DEMO_ORDERS.length);
        expect(orders.filter((o) => o.status === "CANCELLED")).toHaveLength(
          DEMO_ORDERS.filter((o) => o.cancel).length,
        );
        expect(orders.some((o) => o.status === "CANCELLED")).toBe(true);
        for (const d of detail) {
          const confirmed = d.orders.filter((o) => o.status === "CONFIRMED");
          expect(d.market.volumeCents).toBe(confirmed.reduce((sum, o) => sum + o.totalCents, 0));
          for (const order of d.orders) {
            expect(order.totalCents).toBe(order.items.reduce((s, i) => s + i.unitPriceCents * i.quantity, 0));
          }
          const defined = DEMO_MARKETS.find((m) => m.name === d.market.name);
          for (const product of d.products) {
            const initial = defined?.products.find((p) => p.name === product.name)?.stock;
            const sold = confirmed
              .flatMap((o) => o.items)
              .filter((i) => i.productId === product.id)
              .reduce((s, i) => s + i.quantity, 0);
            expect(product.stock, product.name).toBe((initial ?? Number.NaN) - sold);
            for (const item of d.orders.flatMap((o) => o.items).filter((i) => i.productId === product.id)) {
              expect(item.unitPriceCents).toBe(product.priceCents);
            }
          }
        }
        // The CLOSED market took its orders before it closed.
        expect(detail.find((d) => d.market.status === "CLOSED")?.market.volumeCents).toBeGreaterThan(0);

        // Posts, published and not; strangers see only the published ones and no DRAFT market.
        expect(posts).toHaveLength(DEMO_POSTS.length);
        expect(new Set(posts.map((p) => p.published))).toEqual(new Set([true, false]));
        const anon = createAgoraClient({ url: server.url });
        const publicPosts = (await anon.posts.list.query({ limit: 100 })).items;
        expect(publicPosts.map((p) => p.title).sort()).toEqual(
          DEMO_POSTS.filter((p) => p.published)
            .map((p) => p.title)
            .sort(),
        );
        const publicMarkets = (await anon.markets.list.query({ limit: 100 })).items;
        expect(publicMarkets.map((m) => m.status)).not.toContain("DRAFT");
        expect(publicMarkets).toHaveLength(DEMO_MARKETS.filter((m) => m.status !== "DRAFT").length);

        // The embedded database is one process's: a seed run meanwhile is refused with advice.
        // A real PostgreSQL is shared, and the run there simply finds everything in place.
        const concurrent = await runSeed(db.env);
        if (db.kind === "embedded") {
          expect(concurrent.code).toBe(1);
          expect(concurrent.stderr).toMatch(/in use by a running Agora server/);
          expect(concurrent.stderr).toMatch(/Stop the server/);
        } else {
          expect(concurrent.code, concurrent.stderr).toBe(0);
          expect(concurrent.stdout).toContain("nothing to do");
        }
      } finally {
        await server.close();
      }
    },
    SLOW,
  );

  it(
    "creates nothing on a second run, and says so",
    async () => {
      const second = await runSeed(db.env);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout).toMatch(/already present.*nothing to do/);
      expect(second.stdout).not.toContain("Demo data added");

      const server = await startOn(db.env);
      try {
        const admin = await login(server, demoAccount("admin").email, demoAccount("admin").password);
        expect(await snapshot(admin.api)).toEqual(afterFirstRun);
      } finally {
        await server.close();
      }
    },
    SLOW,
  );
});

describe("SEED_DEMO", () => {
  it("defaults to on only for development on the embedded database; an explicit value wins", () => {
    const secret = { JWT_SECRET: TEST_JWT_SECRET };
    expect(loadConfig({}).seedDemo).toBe(true);
    expect(loadConfig({ DATABASE_URL: "postgresql://db/agora" }).seedDemo).toBe(false);
    expect(loadConfig({ NODE_ENV: "production", ...secret }).seedDemo).toBe(false);
    expect(loadConfig({ NODE_ENV: "test" }).seedDemo).toBe(false);
    expect(loadConfig({ SEED_DEMO: "false" }).seedDemo).toBe(false);
    expect(loadConfig({ NODE_ENV: "production", SEED_DEMO: "true", ...secret }).seedDemo).toBe(true);
    expect(loadConfig({ DATABASE_URL: "postgresql://db/agora", SEED_DEMO: "true" }).seedDemo).toBe(true);
  });

  it(
    "=true: a server starting on an empty database seeds the demo beside the ADMIN_EMAIL admin",
    async () => {
      const ts = await startTestServer({ SEED_DEMO: "true" });
      try {
        const anon = ts.client();
        const markets = await anon.markets.list.query({ limit: 100 });
        expect(markets.total).toBe(DEMO_MARKETS.filter((m) => m.status !== "DRAFT").length);
        const alice = demoAccount("alice");
        const session = await anon.auth.login.mutate({ email: alice.email, password: alice.password });
        expect(session.user.username).toBe(alice.username);

        // The configured admin and the demo admin are two accounts, both admins.
        const admin = await loginAdmin(ts);
        expect(admin.user.email).toBe(ADMIN.email);
        const users = await admin.api.users.list.query({ limit: 100 });
        expect(
          users.items
            .filter((u) => u.role === "ADMIN")
            .map((u) => u.email)
            .sort(),
        ).toEqual([ADMIN.email, demoAccount("admin").email].sort());
        expect(users.total).toBe(DEMO_USERS.length + 1);
      } finally {
        await ts.close();
      }
    },
    SLOW,
  );

  it(
    "=false: no demo data",
    async () => {
      const ts = await startTestServer({ SEED_DEMO: "false" });
      try {
        const anon = ts.client();
        expect((await anon.markets.list.query({})).total).toBe(0);
        const alice = demoAccount("alice");
        await expectError(
          anon.auth.login.mutate({ email: alice.email, password: alice.password }),
          "UNAUTHORIZED",
        );
      } finally {
        await ts.close();
      }
    },
    SLOW,
  );

  it(
    "=true: a database that already has users is left alone",
    async () => {
      const db = await createTestDatabase();
      try {
        const first = await startOn(db.env);
        try {
          await createAgoraClient({ url: first.url }).auth.register.mutate({
            email: "someone@example.com",
            username: "someone",
            password: "Passw0rdGood",
          });
        } finally {
          await first.close();
        }
        const second = await startOn(db.env, { SEED_DEMO: "true" });
        try {
          const anon = createAgoraClient({ url: second.url });
          expect((await anon.markets.list.query({})).total).toBe(0);
          const alice = demoAccount("alice");
          await expectError(
            anon.auth.login.mutate({ email: alice.email, password: alice.password }),
            "UNAUTHORIZED",
          );
        } finally {
          await second.close();
        }
      } finally {
        await db.drop();
      }
    },
    SLOW,
  );
});
