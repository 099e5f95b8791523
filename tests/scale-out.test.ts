import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgoraClient, type AgoraClient } from "@agora/client";
import { createMarket, createProduct, watchMarket, type Received } from "./support/marketplace.js";
import pg from "pg";
import { startServerProcess, type ServerProcess } from "./support/process.js";
import { createTestDatabase } from "./support/database.js";
import { TEST_JWT_SECRET, waitFor } from "./support/server.js";
import { newUserInput } from "./support/people.js";
import { startOwnedRedis, type OwnedRedis } from "./support/services.js";
import { startSmtpServer, type ReceivedMail } from "./support/smtp.js";

/**
 * The promise of several instances under load and faults, with two real server processes on
 * one PostgreSQL and one Redis (CI's PostgreSQL + Redis pass): events published on both reach
 * every subscriber once and in order, live and across resumptions.
 */
const shared = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);

function baseEnv(extra: Record<string, string>): Record<string, string> {
  return {
    NODE_ENV: "test",
    LOG_LEVEL: "warn",
    JWT_SECRET: TEST_JWT_SECRET,
    MIGRATE_ON_START: "false",
    BCRYPT_COST: "4",
    PASSWORD_WORKERS: "1",
    RATE_LIMIT_ENABLED: "false",
    JOB_POLL_INTERVAL_SECONDS: "0.5",
    CLEANUP_CRON: "0 3 1 1 *",
    ...extra,
  };
}

function clientOf(instance: { url: string }, token?: string): AgoraClient {
  return createAgoraClient({ url: instance.url, getAccessToken: () => token ?? null });
}

async function registerOn(instance: { url: string }): Promise<{ id: string; token: string }> {
  const result = await clientOf(instance).auth.register.mutate(newUserInput());
  return { id: result.user.id, token: result.tokens.accessToken };
}

/** What an event is about, unique per write: the test knows every write it made. */
function subject(event: Received): string {
  const data = event.data;
  switch (data.type) {
    case "order.placed":
      return `order:${data.orderId}`;
    case "post.created":
      return `post:${data.post.id}`;
    case "market.updated":
      return `update:${data.market.description ?? ""}`;
  }
}

function streamId(id: string): [number, number] {
  const [ms, seq] = id.split("-").map(Number);
  return [ms ?? 0, seq ?? 0];
}

function isAfter(a: string, b: string): boolean {
  const [am, as] = streamId(a);
  const [bm, bs] = streamId(b);
  return am > bm || (am === bm && as > bs);
}

describe.runIf(shared)("events with writers on two instances", () => {
  let a: ServerProcess;
  let b: ServerProcess;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const database = await createTestDatabase();
    drop = () => database.drop();
    const env = baseEnv({
      ...database.env,
      REDIS_URL: process.env.REDIS_URL ?? "",
      REDIS_KEY_PREFIX: `agora-test:${randomUUID()}:`,
    });
    [a, b] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
  });

  afterAll(async () => {
    const codes = await Promise.all([a.stop(), b.stop()]);
    expect(codes, `A:\n${a.output()}\nB:\n${b.output()}`).toEqual([0, 0]);
    await drop();
  });

  it("delivers every event once, in stream order, live and across resumptions on either instance", async () => {
    const seller = await registerOn(a);
    const market = await createMarket(clientOf(a, seller.token));
    const products = await Promise.all(
      Array.from({ length: 4 }, () =>
        createProduct(clientOf(b, seller.token), market.id, { stock: 100_000 }),
      ),
    );
    const buyers = await Promise.all([registerOn(a), registerOn(b), registerOn(a), registerOn(b)]);

    // The subscriber: a chain of streams, each resumed from the last event the previous one
    // delivered, alternating between the instances, while the writers keep going.
    const received: Received[] = [];
    let stream = await watchMarket(b, { marketId: market.id });
    let resumptions = 0;
    const state = { writing: true };
    const subscriber = (async () => {
      let on: ServerProcess = b;
      while (state.writing || resumptions < 5) {
        const seen = stream.events.length;
        await new Promise((resolve) => setTimeout(resolve, 400));
        if (stream.events.length === seen && !state.writing) break;
        stream.close();
        received.push(...stream.events);
        const last = received.at(-1)?.id ?? null;
        on = on === a ? b : a;
        stream = await watchMarket(on, { marketId: market.id, lastEventId: last });
        resumptions += 1;
      }
    })();

    const expected = new Set<string>();
    const ORDERS_PER_BUYER = 220;
    const orders = buyers.map(async (buyer, i) => {
      const api = clientOf(i % 2 === 0 ? a : b, buyer.token);
      for (let n = 0; n < ORDERS_PER_BUYER; n += 1) {
        const product = products[n % products.length];
        if (!product) throw new Error("no product");
        const order = await api.orders.create.mutate({
          marketId: market.id,
          items: [{ productId: product.id, quantity: 1 }],
        });
        expected.add(`order:${order.id}`);
      }
    });
    const sellerWrites = [a, b].map(async (instance, i) => {
      const api = clientOf(instance, seller.token);
      for (let n = 0; n < 60; n += 1) {
        if (n % 2 === 0) {
          const post = await api.posts.create.mutate({
            title: `Post ${String(i)}-${String(n)}`,
            content: "news",
            marketId: market.id,
          });
          expected.add(`post:${post.id}`);
        } else {
          const description = `update ${String(i)}-${String(n)}`;
          await api.markets.update.mutate({ id: market.id, data: { description } });
          expected.add(`update:${description}`);
        }
      }
    });
    try {
      await Promise.all([...orders, ...sellerWrites]);
    } finally {
      state.writing = false;
    }
    expect(expected.size).toBe(buyers.length * ORDERS_PER_BUYER + 120);

    await waitFor(
      () => (new Set([...received, ...stream.events].map(subject)).size >= expected.size ? true : undefined),
      15_000,
      "every event to arrive",
    ).catch(() => undefined);
    await subscriber;
    // Give a late duplicate the chance to show up.
    await new Promise((resolve) => setTimeout(resolve, 500));
    stream.close();
    received.push(...stream.events);

    const subjects = received.map(subject);
    const missed = [...expected].filter((s) => !subjects.includes(s));
    const duplicated = subjects.filter((s, i) => subjects.indexOf(s) !== i);
    const outOfOrder = received.filter((e, i) => i > 0 && !isAfter(e.id, received[i - 1]?.id ?? "0-0"));
    expect(
      { missed: missed.length, duplicated: duplicated.length, outOfOrder: outOfOrder.length },
      `${String(received.length)} received of ${String(expected.size)}, ${String(resumptions)} resumptions`,
    ).toEqual({ missed: 0, duplicated: 0, outOfOrder: 0 });
    expect(resumptions).toBeGreaterThanOrEqual(5);
  }, 180_000);
});

describe.runIf(shared)("jobs of an instance that dies", () => {
  /** JOB_TIMEOUT_SECONDS here; the README's bound is this plus 10 s. */
  const TIMEOUT_SECONDS = 6;

  it("are finished by the other instance within the job timeout plus 10 s, each mail sent once", async () => {
    const database = await createTestDatabase();
    // One mail provider per instance, answering each message 400 ms later: what each sent is known.
    const mailOfA = await startSmtpServer({ delayMs: 400 });
    const mailOfB = await startSmtpServer({ delayMs: 400 });
    const env = baseEnv({
      ...database.env,
      REDIS_URL: process.env.REDIS_URL ?? "",
      REDIS_KEY_PREFIX: `agora-test:${randomUUID()}:`,
      JOB_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS),
    });
    const [a, b] = await Promise.all([
      startServerProcess({ ...env, SMTP_URL: mailOfA.url }),
      startServerProcess({ ...env, SMTP_URL: mailOfB.url }),
    ]);
    try {
      const seller = await registerOn(a);
      const market = await createMarket(clientOf(a, seller.token));
      const product = await createProduct(clientOf(a, seller.token), market.id, { stock: 10_000 });
      const buyers = await Promise.all([registerOn(a), registerOn(b), registerOn(a), registerOn(b)]);
      const resetters = await Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          const input = newUserInput();
          await clientOf(i % 2 === 0 ? a : b).auth.register.mutate(input);
          return input.email;
        }),
      );

      // 200 orders and 100 password resets over both instances, all acknowledged.
      const orderIds = (
        await Promise.all(
          buyers.map(async (buyer, i) => {
            const ids: string[] = [];
            for (let n = 0; n < 50; n += 1) {
              const api = clientOf((i + n) % 2 === 0 ? a : b, buyer.token);
              const order = await api.orders.create.mutate({
                marketId: market.id,
                items: [{ productId: product.id, quantity: 1 }],
              });
              ids.push(order.id);
            }
            return ids;
          }),
        )
      ).flat();
      await Promise.all(
        resetters.map((email, i) =>
          clientOf(i % 2 === 0 ? a : b).auth.requestPasswordReset.mutate({ email }),
        ),
      );

      // A crashes in the middle of sending: its provider stops answering (so nothing A holds
      // now is delivered), and once A is waiting on a message, it is killed.
      await waitFor(() => (mailOfA.received.length >= 10 ? true : undefined), 30_000, "A to send");
      mailOfA.hold();
      await waitFor(() => (mailOfA.unanswered() > 0 ? true : undefined), 30_000, "A to hold a job");
      // What A had sent before the hold is recorded as done by now.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const killedAt = Date.now();
      await a.kill();

      const all = (): ReceivedMail[] => [...mailOfA.received, ...mailOfB.received];
      const expected = orderIds.length + resetters.length;
      const bound = (TIMEOUT_SECONDS + 10) * 1000;
      await waitFor(
        () => (all().length >= expected ? true : undefined),
        bound + 20_000,
        `${String(expected)} mails`,
      ).catch(() => undefined);
      // A duplicate would show up within a poll or two.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const mails = all();
      const orderMails = mails
        .map((m) => /order (\S+)/.exec(m.subject)?.[1])
        .filter((id) => id !== undefined);
      const resetMails = mails.filter((m) => m.subject.includes("Reset")).flatMap((m) => m.to);
      const lastAt = Math.max(...mails.map((m) => m.at));
      const summary = `A sent ${String(mailOfA.received.length)}, B sent ${String(mailOfB.received.length)}, last mail ${String(lastAt - killedAt)} ms after the kill`;
      expect(orderMails.sort(), summary).toEqual([...orderIds].sort());
      expect(resetMails.sort(), summary).toEqual([...resetters].sort());
      // Held jobs come back within the stated bound; the rest of the backlog B sends as fast as it can.
      expect(lastAt - killedAt, summary).toBeLessThan(bound + 10_000);
      expect(b.output()).toContain("jobs of a stopped instance taken back for a retry");

      const db = new pg.Client({ connectionString: database.env.DATABASE_URL ?? "" });
      await db.connect();
      try {
        const { rows } = await db.query<{ state: string; n: number }>(
          "SELECT state::text, count(*)::int AS n FROM pgboss.job WHERE name <> '__pgboss__send-it' GROUP BY state",
        );
        const open = rows.filter((r) => ["created", "retry", "active"].includes(r.state));
        expect(open, summary).toEqual([]);
      } finally {
        await db.end();
      }
    } finally {
      await a.kill();
      const code = await b.stop();
      expect(code, b.output()).toBe(0);
      await mailOfA.close();
      await mailOfB.close();
      await database.drop();
    }
  }, 240_000);
});

describe.runIf(shared)("cached reads through Redis faults", () => {
  let redis: OwnedRedis;
  let a: ServerProcess;
  let b: ServerProcess;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    // A Redis of this test's own, which it freezes and restarts; with persistence, so that a
    // restart brings back the entries and generations it held, as a production Redis would.
    redis = await startOwnedRedis({ persistent: true });
    const database = await createTestDatabase();
    drop = () => database.drop();
    const env = baseEnv({
      ...database.env,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: "agora-cache-faults:",
      CACHE_ENABLED: "true",
      CACHE_TTL_SECONDS: "60",
    });
    [a, b] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
  });

  afterAll(async () => {
    redis.resume();
    const codes = await Promise.all([a.stop(), b.stop()]);
    expect(codes, `A:\n${a.output()}\nB:\n${b.output()}`).toEqual([0, 0]);
    await redis.destroy();
    await drop();
  });

  async function readyAgain(instance: ServerProcess): Promise<void> {
    await waitFor(
      async () => ((await fetch(`${instance.url}/readyz`)).status === 200 ? true : undefined),
      20_000,
      "/readyz 200",
    );
  }

  it("never shows a value older than an acknowledged write, after a freeze and after a restart", async () => {
    const owner = await registerOn(a);
    const market = await createMarket(clientOf(a, owner.token), { name: "v0" });
    await clientOf(a, owner.token).users.updateMe.mutate({ name: "v0" });
    const versions = ["v0", "freeze", "restart"];

    // Acknowledged writes, per subject: the version and when its call returned.
    const acked = new Map<string, { version: number; at: number }>([
      ["user", { version: 0, at: 0 }],
      ["market", { version: 0, at: 0 }],
    ]);
    const write = async (version: number) => {
      const api = clientOf(a, owner.token);
      const name = versions[version] ?? "";
      await api.users.updateMe.mutate({ name });
      acked.set("user", { version, at: Date.now() });
      await api.markets.update.mutate({ id: market.id, data: { name } });
      acked.set("market", { version, at: Date.now() });
    };

    // Readers on both instances, all along; a read counts as stale if it started after a
    // write was acknowledged and shows an older version.
    const stale: string[] = [];
    let reads = 0;
    const state = { reading: true };
    const readers = [a, b].flatMap((instance, i) =>
      (["user", "market"] as const).map(async (what) => {
        const anon = clientOf(instance);
        while (state.reading) {
          const before = acked.get(what)?.version ?? 0;
          const startedAt = Date.now();
          try {
            const name =
              what === "user"
                ? (await anon.users.byId.query({ id: owner.id })).name
                : (await anon.markets.byId.query({ id: market.id })).name;
            reads += 1;
            if (versions.indexOf(name ?? "") < before) {
              stale.push(`${i === 0 ? "A" : "B"} ${what} at +${String(startedAt)}: ${String(name)}`);
            }
          } catch {
            // An error is not a stale read (the calls themselves are tested elsewhere).
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }),
    );

    await new Promise((resolve) => setTimeout(resolve, 500)); // cached on both by now
    // 1. Redis frozen for 2 s; the write is acknowledged meanwhile.
    redis.freeze();
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await write(1);
      await new Promise((resolve) => setTimeout(resolve, 1700));
    } finally {
      redis.resume();
    }
    await Promise.all([readyAgain(a), readyAgain(b)]);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const afterFreeze = [...stale];

    // 2. Redis stopped, the write acknowledged, Redis restarted with the data it had.
    await redis.stop();
    await write(2);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await redis.start();
    await Promise.all([readyAgain(a), readyAgain(b)]);
    await new Promise((resolve) => setTimeout(resolve, 3000));

    state.reading = false;
    await Promise.all(readers);
    expect(reads).toBeGreaterThan(100);
    const afterRestart = stale.slice(afterFreeze.length);
    expect(
      { afterFreeze: afterFreeze.length, afterRestart: afterRestart.length },
      `${String(reads)} reads; stale ones: ${[...afterFreeze.slice(0, 3), ...afterRestart.slice(0, 3)].join("; ")}`,
    ).toEqual({ afterFreeze: 0, afterRestart: 0 });
  }, 120_000);
});
