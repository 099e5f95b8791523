import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agoraErrorCode, createAgoraClient, type AgoraClient } from "@agora/client";
import { expectError } from "./support/errors.js";
import { createMarket, createProduct, subscriptionError, watchMarket } from "./support/marketplace.js";
import { repoRoot, startServerProcess, type ServerProcess } from "./support/process.js";
import { ADMIN, createTestDatabase, TEST_JWT_SECRET, waitFor } from "./support/server.js";
import { newUserInput, type AuthResult } from "./support/people.js";
import { startSmtpServer, type TestSmtpServer } from "./support/smtp.js";

/**
 * Several Agora processes behind a load balancer share one PostgreSQL and one Redis. Two real
 * server processes are started here on one database and one Redis key prefix, and every
 * shared concern is checked across them. Needs both services, so it runs in CI's
 * PostgreSQL + Redis pass (the embedded default is single-instance by design).
 */
const shared = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);
const RATE_LIMIT_MAX = 25;

let a: ServerProcess;
let b: ServerProcess;
let smtp: TestSmtpServer;
let baseEnv: Record<string, string>;
let dropDatabase: (() => Promise<void>) | null = null;
let ipCounter = 0;

/** A client of one instance; each gets its own client IP (X-Forwarded-For), so rate limits do not mix. */
function clientOf(instance: ServerProcess, auth: { token?: string; ip?: string } = {}): AgoraClient {
  ipCounter += 1;
  const ip = auth.ip ?? `10.20.${String(Math.floor(ipCounter / 250))}.${String((ipCounter % 250) + 1)}`;
  return createAgoraClient({
    url: instance.url,
    getAccessToken: () => auth.token ?? null,
    headers: { "x-forwarded-for": ip },
  });
}

async function register(instance: ServerProcess): Promise<AuthResult & { email: string; password: string }> {
  const input = newUserInput();
  const result = await clientOf(instance).auth.register.mutate(input);
  return { ...result, email: input.email, password: input.password };
}

describe.runIf(shared)("two instances on one PostgreSQL and one Redis", () => {
  beforeAll(async () => {
    const database = await createTestDatabase();
    dropDatabase = database.drop;
    smtp = await startSmtpServer();
    baseEnv = {
      NODE_ENV: "test",
      LOG_LEVEL: "warn",
      JWT_SECRET: TEST_JWT_SECRET,
      ...database.env,
      REDIS_URL: process.env.REDIS_URL ?? "",
      REDIS_KEY_PREFIX: `agora-test:${randomUUID()}:`,
      MIGRATE_ON_START: "false",
      BCRYPT_COST: "4",
      PASSWORD_WORKERS: "1",
      TRUST_PROXY: "1",
      RATE_LIMIT_ENABLED: "true",
      RATE_LIMIT_MAX: String(RATE_LIMIT_MAX),
      JOB_POLL_INTERVAL_SECONDS: "0.5",
      SMTP_URL: smtp.url,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      ADMIN_USERNAME: ADMIN.username,
    };
    // Started together, as a deployment would: both race to ensure the admin and the job schema.
    [a, b] = await Promise.all([startServerProcess(baseEnv), startServerProcess(baseEnv)]);
  });

  afterAll(async () => {
    const codes = await Promise.all([a.stop(), b.stop()]);
    // A clean drain on SIGTERM exits 0; anything else, show what the servers said.
    expect(codes, `A:\n${a.output()}\nB:\n${b.output()}`).toEqual([0, 0]);
    await smtp.close();
    await dropDatabase?.();
  });

  it("shares the rate limit: calls split across both trip it at the same total", async () => {
    const ip = "10.99.0.1";
    for (let i = 0; i < RATE_LIMIT_MAX; i += 1) {
      await clientOf(i % 2 === 0 ? a : b, { ip }).health.live.query();
    }
    const refusedOnA = await expectError(clientOf(a, { ip }).health.live.query(), "TOO_MANY_REQUESTS");
    await expectError(clientOf(b, { ip }).health.live.query(), "TOO_MANY_REQUESTS");
    expect(refusedOnA.data?.httpStatus).toBe(429);
    // Another client is unaffected.
    await clientOf(a, { ip: "10.99.0.2" }).health.live.query();
  });

  it("delivers an order placed on B to a subscriber on A, and resumes on B with lastEventId", async () => {
    const seller = await register(b);
    const buyer = await register(b);
    const sellerB = clientOf(b, { token: seller.tokens.accessToken });
    const buyerB = clientOf(b, { token: buyer.tokens.accessToken });
    const market = await createMarket(sellerB);
    const product = await createProduct(sellerB, market.id, { stock: 100 });
    const items = [{ productId: product.id, quantity: 1 }];

    const onA = await watchMarket(a, { marketId: market.id });
    const first = await buyerB.orders.create.mutate({ marketId: market.id, items });
    const [event] = await onA.next(1);
    expect(event?.data).toMatchObject({ type: "order.placed", orderId: first.id });
    onA.close();

    // Missed while disconnected, then replayed by the other instance.
    const second = await buyerB.orders.create.mutate({ marketId: market.id, items });
    const onB = await watchMarket(b, { marketId: market.id, lastEventId: event?.id ?? null });
    const [replayed] = await onB.next(1);
    expect(replayed?.data).toMatchObject({ type: "order.placed", orderId: second.id });
    onB.close();
  });

  it("invalidates a cache entry read on A by a write on B", async () => {
    const seller = await register(a);
    const buyer = await register(a);
    const sellerB = clientOf(b, { token: seller.tokens.accessToken });
    const market = await createMarket(clientOf(a, { token: seller.tokens.accessToken }), { name: "Old" });
    const product = await createProduct(sellerB, market.id, { stock: 5 });
    const anonA = clientOf(a);
    expect((await anonA.markets.byId.query({ id: market.id })).name).toBe("Old");
    expect((await anonA.products.byId.query({ id: product.id })).stock).toBe(5);

    await sellerB.markets.update.mutate({ id: market.id, data: { name: "New" } });
    expect((await anonA.markets.byId.query({ id: market.id })).name).toBe("New");
    await clientOf(b, { token: buyer.tokens.accessToken }).orders.create.mutate({
      marketId: market.id,
      items: [{ productId: product.id, quantity: 2 }],
    });
    expect((await anonA.products.byId.query({ id: product.id })).stock).toBe(3);
    expect((await anonA.markets.byId.query({ id: market.id })).volumeCents).toBe(200);
  });

  it("refuses on B, at once, a session revoked on A", async () => {
    const user = await register(a);
    const meOnB = clientOf(b, { token: user.tokens.accessToken });
    await meOnB.users.me.query(); // the live session is now cached
    await clientOf(a, { token: user.tokens.accessToken }).auth.logout.mutate({
      refreshToken: user.tokens.refreshToken,
    });
    await expectError(meOnB.users.me.query(), "UNAUTHORIZED");

    const other = await register(b);
    const second = await clientOf(a).auth.login.mutate({ email: other.email, password: other.password });
    const secondOnA = clientOf(a, { token: second.tokens.accessToken });
    await secondOnA.users.me.query();
    await clientOf(b, { token: other.tokens.accessToken }).auth.logoutAll.mutate();
    await expectError(secondOnA.users.me.query(), "UNAUTHORIZED");
  });

  it("keeps a session signed in when two tabs refresh one token at once, one on each instance", async () => {
    const user = await register(a);
    const tab = (instance: ServerProcess) =>
      clientOf(instance, { token: user.tokens.accessToken }).auth.refresh.mutate({
        refreshToken: user.tokens.refreshToken,
      });
    const [onA, onB] = await Promise.all([tab(a), tab(b)]);
    expect(onA.refreshToken).toBe(onB.refreshToken);
    for (const [instance, tokens] of [
      [b, onA],
      [a, onB],
    ] as const) {
      expect((await clientOf(instance, { token: tokens.accessToken }).users.me.query()).id).toBe(
        user.user.id,
      );
    }
  });

  it("opens a stream on B with a subscription ticket issued on A, once: replayed on A or B it is refused", async () => {
    const user = await register(a);
    const onA = clientOf(a, { token: user.tokens.accessToken });
    const market = await createMarket(onA);
    const { ticket } = await onA.auth.subscriptionTicket.mutate();
    const onB = await watchMarket(b, { marketId: market.id }, { ticket });
    await onA.markets.update.mutate({ id: market.id, data: { name: "Seen on B" } });
    expect((await onB.next(1))[0]?.data).toMatchObject({ type: "market.updated" });
    onB.close();
    for (const instance of [a, b]) {
      expect(agoraErrorCode(await subscriptionError(instance, { marketId: market.id }, { ticket }))).toBe(
        "UNAUTHORIZED",
      );
    }
  });

  it("ends on B, at once, the event stream of a session revoked on A", async () => {
    const user = await register(a);
    const market = await createMarket(clientOf(a, { token: user.tokens.accessToken }));
    const onB = await watchMarket(b, { marketId: market.id }, user.tokens.accessToken);
    await clientOf(a, { token: user.tokens.accessToken }).auth.logoutAll.mutate();
    expect(agoraErrorCode(await onB.error(5_000))).toBe("UNAUTHORIZED");
  });

  it("runs each job exactly once, and keeps a job whose process crashed right after the commit", async () => {
    const seller = await register(a);
    const buyer = await register(b);
    const market = await createMarket(clientOf(a, { token: seller.tokens.accessToken }));
    const product = await createProduct(clientOf(a, { token: seller.tokens.accessToken }), market.id, {
      stock: 1000,
    });
    const items = [{ productId: product.id, quantity: 1 }];
    const before = smtp.received.length;
    const orders = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        clientOf(i % 2 === 0 ? a : b, { token: buyer.tokens.accessToken }).orders.create.mutate({
          marketId: market.id,
          items,
        }),
      ),
    );

    // An instance that runs no workers places an order and dies on the spot.
    const c = await startServerProcess({ ...baseEnv, JOB_WORKERS: "false" });
    const orphan = await clientOf(c, { token: buyer.tokens.accessToken }).orders.create.mutate({
      marketId: market.id,
      items,
    });
    await c.kill();
    orders.push(orphan);

    const confirmations = () => smtp.received.slice(before).filter((m) => m.to.includes(buyer.email));
    await waitFor(() => (confirmations().length >= orders.length ? true : undefined), 30_000, "21 mails");
    // Give a duplicate every chance to show up before counting.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const mailed = confirmations().map((m) => /order (\S+)/.exec(m.subject)?.[1]);
    expect(mailed.sort()).toEqual(orders.map((o) => o.id).sort());
  });
});

describe("WEB_CONCURRENCY", () => {
  it("refuses more than one worker on the embedded database or without Redis, naming the variable", async () => {
    const { spawnSync } = await import("node:child_process");
    const run = (env: Record<string, string>) =>
      spawnSync(process.execPath, ["--import", "tsx", "server/src/main.ts"], {
        cwd: repoRoot,
        env: { PATH: process.env.PATH ?? "", NODE_ENV: "development", ...env },
        encoding: "utf8",
        timeout: 60_000,
      });
    const embedded = run({ WEB_CONCURRENCY: "2" });
    expect(embedded.status).toBe(1);
    expect(embedded.stderr).toContain("WEB_CONCURRENCY: more than one worker needs DATABASE_URL");
    const noRedis = run({ WEB_CONCURRENCY: "2", DATABASE_URL: "postgresql://postgres@127.0.0.1:5432/x" });
    expect(noRedis.status).toBe(1);
    expect(noRedis.stderr).toContain("WEB_CONCURRENCY: more than one worker needs REDIS_URL");
  }, 120_000);

  it.runIf(shared)(
    "runs two workers on one port that share the generated JWT secret, and drain on SIGTERM",
    async () => {
      const database = await createTestDatabase();
      try {
        const server = await startServerProcess({
          NODE_ENV: "development", // no JWT_SECRET: the primary generates one for all workers
          LOG_LEVEL: "info",
          ...database.env,
          REDIS_URL: process.env.REDIS_URL ?? "",
          REDIS_KEY_PREFIX: `agora-test:${randomUUID()}:`,
          MIGRATE_ON_START: "false",
          BCRYPT_COST: "4",
          WEB_CONCURRENCY: "2",
        });
        try {
          await waitFor(
            () => ((server.output().match(/Agora listening/g) ?? []).length >= 2 ? true : undefined),
            60_000,
            "both workers to listen",
          );
          const user = await register(server);
          // Fresh connections are spread over the workers; every one accepts the token.
          for (let i = 0; i < 20; i += 1) {
            const res = await fetch(`${server.url}/trpc/users.me`, {
              headers: { authorization: `Bearer ${user.tokens.accessToken}`, connection: "close" },
            });
            expect(res.status).toBe(200);
          }
          const served = new Set(
            server
              .output()
              .split("\n")
              .filter((line) => line.includes('"url":"/trpc/users.me"'))
              .map((line) => (JSON.parse(line) as { worker?: number }).worker),
          );
          expect(served).toEqual(new Set([1, 2]));
        } finally {
          expect(await server.stop(), server.output()).toBe(0);
        }
      } finally {
        await database.drop();
      }
    },
  );
});
