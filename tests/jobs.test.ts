import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createLogger,
  createPrismaClient,
  JOB_QUEUES,
  JobQueue,
  startEmbeddedPostgres,
} from "@agora/server/testing";
import { expectError } from "./support/errors.js";
import { createMarket, createProduct } from "./support/marketplace.js";
import { startTestServer, waitFor, createTestDatabase, type TestServer } from "./support/server.js";
import { loginAdmin, registerUser, startCast, type Cast } from "./support/people.js";
import { freePort } from "./support/process.js";
import { startSmtpServer } from "./support/smtp.js";

/** Durable background jobs (pg-boss, in the database itself) and the mail they send. */
let cast: Cast;

beforeAll(async () => {
  cast = await startCast();
});
afterAll(async () => {
  await cast.ts.close();
});

async function jobsIn(ts: TestServer, queue: string): Promise<number> {
  const counts = await ts.server.services.jobs.counts();
  const q = counts.find((c) => c.queue === queue);
  if (!q) throw new Error(`no queue ${queue}`);
  return q.created + q.retry + q.active + q.completed + q.failed + q.cancelled;
}

describe("order confirmation mail", () => {
  it("mails the buyer what they ordered once the order commits", async () => {
    const [seller, buyer] = cast.users;
    const market = await createMarket(seller.api, { name: "Corner shop" });
    const apples = await createProduct(seller.api, market.id, { name: "Apples", priceCents: 150 });
    const pears = await createProduct(seller.api, market.id, { name: "Pears", priceCents: 275 });
    const before = cast.ts.mailer.sent.length;
    const order = await buyer.api.orders.create.mutate({
      marketId: market.id,
      items: [
        { productId: apples.id, quantity: 2 },
        { productId: pears.id, quantity: 1 },
      ],
    });
    const mail = await cast.ts.waitForMail(buyer.input.email, before);
    expect(mail.subject).toContain(order.id);
    expect(mail.text).toContain('"Corner shop"');
    expect(mail.text).toContain("2 x Apples at 1.50");
    expect(mail.text).toContain("1 x Pears at 2.75");
    expect(mail.text).toContain("Total: 5.75");
  });

  it("is enqueued by the order's own transaction: a refused order leaves no job behind", async () => {
    const [seller, buyer] = cast.users;
    const market = await createMarket(seller.api);
    const scarce = await createProduct(seller.api, market.id, { stock: 1 });
    const before = await jobsIn(cast.ts, "order-confirmation-mail");
    await expectError(
      buyer.api.orders.create.mutate({ marketId: market.id, items: [{ productId: scarce.id, quantity: 2 }] }),
      "CONFLICT",
    );
    expect(await jobsIn(cast.ts, "order-confirmation-mail")).toBe(before);
    await buyer.api.orders.create.mutate({
      marketId: market.id,
      items: [{ productId: scarce.id, quantity: 1 }],
    });
    expect(await jobsIn(cast.ts, "order-confirmation-mail")).toBe(before + 1);
    // An idempotent replay returns the first order and owes no second mail.
    const key = `k-${Date.now().toString(36)}`;
    const restock = await createProduct(seller.api, market.id, { stock: 5 });
    const items = [{ productId: restock.id, quantity: 1 }];
    await buyer.api.orders.create.mutate({ marketId: market.id, items, idempotencyKey: key });
    await buyer.api.orders.create.mutate({ marketId: market.id, items, idempotencyKey: key });
    expect(await jobsIn(cast.ts, "order-confirmation-mail")).toBe(before + 2);
  });
});

describe("mail over SMTP (SMTP_URL)", () => {
  it("delivers a password-reset mail whose link resets the password", async () => {
    const smtp = await startSmtpServer();
    const ts = await startTestServer(
      { SMTP_URL: smtp.url, PUBLIC_URL: "https://agora.example.com" },
      { mail: "configured" },
    );
    try {
      const alice = await registerUser(ts);
      await ts.client().auth.requestPasswordReset.mutate({ email: alice.input.email });
      const mail = await waitFor(() => smtp.received[0], 20_000, "the reset mail");
      expect(mail.to).toEqual([alice.input.email]);
      expect(mail.subject).toBe("Reset your Agora password");
      const link = new URL(/Or open: (\S+)/.exec(mail.text)?.[1] ?? "");
      expect(link.origin + link.pathname).toBe("https://agora.example.com/reset-password");
      const token = link.searchParams.get("token") ?? "";
      await ts.client().auth.resetPassword.mutate({ token, newPassword: "FromTheLink1" });
      await ts.client().auth.login.mutate({ email: alice.input.email, password: "FromTheLink1" });
    } finally {
      await ts.close();
      await smtp.close();
    }
  });

  it("retries a refused delivery with backoff: refused twice, delivered on the third attempt", async () => {
    const smtp = await startSmtpServer({ refuseFirst: 2 });
    const ts = await startTestServer(
      { SMTP_URL: smtp.url, JOB_RETRY_DELAY_SECONDS: "1" },
      { mail: "configured" },
    );
    try {
      const alice = await registerUser(ts);
      await ts.client().auth.requestPasswordReset.mutate({ email: alice.input.email });
      const mail = await waitFor(() => smtp.received[0], 25_000, "the reset mail");
      expect(smtp.attempts()).toBe(3);
      expect(smtp.received).toHaveLength(1);
      // The tokens of the two undelivered attempts were withdrawn; the delivered one works.
      const tokens = await ts.server.infra.database.prisma.passwordResetToken.count({
        where: { userId: alice.user.id },
      });
      expect(tokens).toBe(1);
      const token = /Reset token: (\S+)/.exec(mail.text)?.[1] ?? "";
      await ts.client().auth.resetPassword.mutate({ token, newPassword: "ThirdTime1Lucky" });
      await ts.waitForIdleJobs();
      const stats = await (await loginAdmin(ts)).api.jobs.stats.query();
      expect(stats.queues.find((q) => q.queue === "password-reset-mail")).toMatchObject({
        completed: 1,
        failed: 0,
      });
    } finally {
      await ts.close();
      await smtp.close();
    }
  });

  it("dead-letters a job that exhausts its retries and counts it as failed", async () => {
    const smtp = await startSmtpServer({ refuseAll: true });
    const ts = await startTestServer(
      { SMTP_URL: smtp.url, JOB_RETRY_LIMIT: "1", JOB_RETRY_DELAY_SECONDS: "1" },
      { mail: "configured" },
    );
    try {
      const alice = await registerUser(ts);
      await ts.client().auth.requestPasswordReset.mutate({ email: alice.input.email });
      const admin = (await loginAdmin(ts)).api;
      const stats = await waitFor(
        async () => {
          const s = await admin.jobs.stats.query();
          return s.failed > 0 ? s : undefined;
        },
        25_000,
        "the job to fail for good",
      );
      expect(smtp.attempts()).toBe(2); // the first try and one retry
      expect(stats.failed).toBe(1);
      expect(stats.queues.find((q) => q.queue === "dead-letter")?.created).toBe(1);
      await expectError(alice.api.jobs.stats.query(), "FORBIDDEN");

      const metrics = await (await fetch(`${ts.url}/metrics`)).text();
      expect(metrics).toMatch(/agora_jobs\{queue="password-reset-mail",state="failed"\} 1/);
      expect(metrics).toMatch(/agora_jobs\{queue="dead-letter",state="created"\} 1/);
      expect(metrics).toMatch(/agora_jobs_processed_total\{queue="password-reset-mail",outcome="failed"\} 2/);
    } finally {
      await ts.close();
      await smtp.close();
    }
  });
});

describe("clean-up of expired credentials", () => {
  it("is scheduled, and removes expired and dead rows while keeping live ones", async () => {
    const { prisma } = cast.ts.server.infra.database;
    const schedules = await prisma.$queryRawUnsafe<{ name: string; cron: string }[]>(
      "SELECT name, cron FROM pgboss.schedule",
    );
    expect(schedules).toContainEqual({ name: "auth-cleanup", cron: "0 3 1 1 *" });

    const alice = await registerUser(cast.ts);
    const live = await prisma.authSession.findFirstOrThrow({ where: { userId: alice.user.id } });
    const past = new Date(Date.now() - 48 * 3600 * 1000);
    const future = new Date(Date.now() + 3600 * 1000);
    const revoked = await prisma.authSession.create({ data: { userId: alice.user.id, revokedAt: past } });
    const abandoned = await prisma.authSession.create({
      data: {
        userId: alice.user.id,
        lastUsedAt: past,
        refreshTokens: { create: { tokenHash: `expired-${live.id}`, expiresAt: past } },
      },
    });
    await prisma.passwordResetToken.createMany({
      data: [
        { userId: alice.user.id, tokenHash: `reset-old-${live.id}`, expiresAt: past },
        { userId: alice.user.id, tokenHash: `reset-used-${live.id}`, expiresAt: future, usedAt: new Date() },
        { userId: alice.user.id, tokenHash: `reset-live-${live.id}`, expiresAt: future },
      ],
    });

    const removed = await cast.ts.server.services.auth.cleanupExpired();
    expect(removed.refreshTokens).toBeGreaterThanOrEqual(1);
    expect(removed.resetTokens).toBeGreaterThanOrEqual(2);
    expect(removed.sessions).toBeGreaterThanOrEqual(2);
    const sessions = await prisma.authSession.findMany({
      where: { userId: alice.user.id },
      select: { id: true },
    });
    expect(sessions.map((s) => s.id)).toEqual([live.id]);
    expect(sessions.map((s) => s.id)).not.toContain(revoked.id);
    expect(sessions.map((s) => s.id)).not.toContain(abandoned.id);
    const resets = await prisma.passwordResetToken.findMany({ where: { userId: alice.user.id } });
    expect(resets.map((r) => r.tokenHash)).toEqual([`reset-live-${live.id}`]);
    // The live session still works, refresh included.
    await alice.api.users.me.query();
    await cast.ts.client().auth.refresh.mutate({ refreshToken: alice.tokens.refreshToken });
  });
});

describe("queues and their settings", () => {
  it("a changed JOB_RETRY_LIMIT, JOB_RETRY_DELAY_SECONDS or JOB_TIMEOUT_SECONDS applies to queues made before", async () => {
    const embedded = await startEmbeddedPostgres(null, 0, { useTemplate: false });
    const pool = new pg.Pool({ connectionString: embedded.url, max: 1 });
    const startWith = async (retryLimit: number, retryDelaySeconds: number, timeoutSeconds: number) => {
      const queue = new JobQueue(pool, {
        workers: false,
        pollIntervalSeconds: 1,
        retryLimit,
        retryDelaySeconds,
        timeoutSeconds,
        log: createLogger("silent"),
      });
      queue.define({ name: "mail", handler: () => Promise.resolve() });
      await queue.start();
      await queue.stop(1000);
    };
    const settings = async () =>
      (
        await pool.query<{
          retry_limit: number;
          retry_delay: number;
          expire_seconds: number;
          dead_letter: string | null;
        }>(
          "SELECT retry_limit, retry_delay, expire_seconds, dead_letter FROM pgboss.queue WHERE name = 'mail'",
        )
      ).rows;
    try {
      await startWith(2, 10, 30);
      expect(await settings()).toEqual([
        { retry_limit: 2, retry_delay: 10, expire_seconds: 30, dead_letter: "dead-letter" },
      ]);
      await startWith(7, 45, 12);
      expect(await settings()).toEqual([
        { retry_limit: 7, retry_delay: 45, expire_seconds: 12, dead_letter: "dead-letter" },
      ]);
    } finally {
      await pool.end();
      await embedded.stop();
    }
  });

  it("a new embedded database comes from the template with every queue the server defines", async () => {
    expect(cast.ts.server.services.jobs.queueNames.sort()).toEqual([...JOB_QUEUES].sort());
    // In memory, so from the template's tarball (a folder is copied from its folder form).
    const embedded = await startEmbeddedPostgres(null, 0);
    const pool = new pg.Pool({ connectionString: embedded.url, max: 1 });
    try {
      const { rows } = await pool.query<{ name: string }>("SELECT name FROM pgboss.queue");
      // pg-boss's own queue for cron jobs is not among them: its scheduler, which the server
      // starts once it listens, creates it then.
      expect(rows.map((r) => r.name).sort()).toEqual([...JOB_QUEUES, "dead-letter"].sort());
    } finally {
      await pool.end();
      await embedded.stop();
    }
  });
});

describe("a database unreachable when the queue starts", () => {
  it("the queue starts once it is reachable, the workers asked for meanwhile included", async () => {
    const port = await freePort();
    const pool = new pg.Pool({
      connectionString: `postgresql://postgres:postgres@127.0.0.1:${String(port)}/postgres?sslmode=disable`,
      max: 1,
    });
    const queue = new JobQueue(pool, {
      workers: true,
      pollIntervalSeconds: 1,
      retryLimit: 0,
      retryDelaySeconds: 1,
      timeoutSeconds: 30,
      log: createLogger("silent"),
    });
    const ran: unknown[] = [];
    queue.define({
      name: "mail",
      handler: (data) => {
        ran.push(data);
        return Promise.resolve();
      },
    });
    // Neither fails: the first notes the outage and retries later, the second waits for it.
    await queue.startQueues();
    await queue.startWorkers();
    const embedded = await startEmbeddedPostgres(null, port, { useTemplate: false });
    const prisma = createPrismaClient(pool);
    try {
      // The retry (5 s after the first attempt) creates the queue; sending works from then on.
      await waitFor(
        async () => {
          const { rows } = await pool
            .query<{ name: string }>("SELECT name FROM pgboss.queue WHERE name = 'mail'")
            .catch(() => ({ rows: [] }));
          return rows.length > 0 ? true : undefined;
        },
        20_000,
        "the queue to be created",
      );
      await queue.enqueue(prisma, "mail", { to: "ada@example.com" });
      // Run by this instance's worker, started by the same retry.
      await waitFor(() => (ran.length > 0 ? true : undefined), 20_000, "the job to run");
      expect(ran).toEqual([{ to: "ada@example.com" }]);
    } finally {
      await queue.stop(1000);
      await prisma.$disconnect();
      await pool.end();
      await embedded.stop();
    }
  });
});

describe("instances starting together on a new database", () => {
  // One process per embedded database, so this needs PostgreSQL.
  it.runIf(process.env.DATABASE_URL)("all start: the job schema is created once, not raced", async () => {
    const database = await createTestDatabase();
    if (!("DATABASE_URL" in database.env)) throw new Error("expected a PostgreSQL database");
    const url = database.env.DATABASE_URL;
    const pools = Array.from({ length: 4 }, () => new pg.Pool({ connectionString: url, max: 2 }));
    const queues = pools.map(
      (pool) =>
        new JobQueue(pool, {
          workers: true,
          pollIntervalSeconds: 1,
          retryLimit: 1,
          retryDelaySeconds: 1,
          timeoutSeconds: 30,
          log: createLogger("silent"),
        }),
    );
    for (const queue of queues) {
      for (const name of ["first", "second", "third"])
        queue.define({ name, handler: () => Promise.resolve() });
    }
    try {
      await Promise.all(queues.map((q) => q.start()));
      const counts = await queues[0]?.counts();
      expect(counts?.map((c) => c.queue)).toEqual(["first", "second", "third", "dead-letter"]);
    } finally {
      await Promise.all(queues.map((q) => q.stop(1000)));
      await Promise.all(pools.map((p) => p.end()));
      await database.drop();
    }
  });
});

describe("stopping while a job runs", () => {
  // A queue on a pool of its own, so this needs PostgreSQL (one process per embedded database).
  it.runIf(process.env.DATABASE_URL)(
    "a job still running at shutdown is retried later; its late outcome never touches the ended pool",
    async () => {
      const database = await createTestDatabase();
      if (!("DATABASE_URL" in database.env)) throw new Error("expected a PostgreSQL database");
      const pool = new pg.Pool({ connectionString: database.env.DATABASE_URL, max: 3 });
      const prisma = createPrismaClient(pool);
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on("unhandledRejection", onUnhandled);
      let started: () => void = () => undefined;
      const running = new Promise<void>((resolve) => (started = resolve));
      let finish: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (finish = resolve));
      const queue = new JobQueue(pool, {
        workers: true,
        pollIntervalSeconds: 0.5,
        retryLimit: 3,
        retryDelaySeconds: 1,
        timeoutSeconds: 30,
        log: createLogger("silent"),
      });
      queue.define({
        name: "slow",
        handler: async () => {
          started();
          await gate;
          throw new Error("finished after the shutdown");
        },
      });
      try {
        await queue.start();
        await queue.enqueue(prisma, "slow", { n: 1 });
        await running;
        // The job outlives the stop's timeout: the queue gives it back for a retry and stops.
        await queue.stop(1000);
        const { rows } = await pool.query<{ state: string }>(
          "SELECT state::text AS state FROM pgboss.job WHERE name = 'slow'",
        );
        expect(rows).toEqual([{ state: "retry" }]);
        // Now the handler finishes: pg-boss records its outcome without awaiting it; that late
        // statement must not reach the pool, which the server ends next.
        finish();
        await pool.end();
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(unhandled).toEqual([]);
      } finally {
        process.off("unhandledRejection", onUnhandled);
        finish();
        await prisma.$disconnect();
        if (!pool.ended) await pool.end();
        await database.drop();
      }
    },
    30_000,
  );
});
