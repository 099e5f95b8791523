import type PgBoss from "pg-boss";
import type pg from "pg";
import { isDatabaseUnavailable } from "../shared/prisma-errors.js";
import type { DbOrTx } from "./database/db.js";
import type { Logger } from "./logger.js";

/**
 * Durable background jobs on PostgreSQL (pg-boss), in the application's own database.
 *
 * A job a write asks for is inserted by the same transaction as the write (`enqueue(tx, ...)`):
 * it exists if and only if the write committed, so a crash right after the commit loses
 * nothing; whichever instance polls next runs it. pg-boss claims jobs with
 * `FOR UPDATE SKIP LOCKED`, so with several instances each job runs once, and it schedules
 * cron jobs once per tick across instances. Failed attempts are retried with exponential
 * backoff; a job that exhausts its retries is left `failed` and copied to the dead-letter queue.
 *
 * An attempt may run for `timeoutSeconds` (pg-boss's `expireInSeconds` of each queue; pg-boss
 * fails an attempt that runs longer). A job held by an instance that died is active in the
 * table with nobody running it: every instance with workers looks for such jobs each
 * `reclaimEverySeconds` and gives them back for an immediate retry once their timeout is past
 * by `RECLAIM_GRACE_SECONDS` (by then a live holder has failed them itself). So a dead
 * instance's jobs are retried within timeout + grace + one tick, where pg-boss alone would
 * wait for its maintenance (every 2 minutes) and then the retry delay.
 *
 * Every statement runs on the application's pool (the embedded database serves one connection,
 * and pg-boss polls rather than LISTENs, so it shares it).
 */

export const DEAD_LETTER_QUEUE = "dead-letter";
const SCHEMA = "pgboss";
const START_RETRY_MS = 5_000;
/** Jobs claimed per poll; they run concurrently (mail sends overlap their network waits). */
const BATCH_SIZE = 10;
/** How long past its timeout an active job must be before another instance takes it back. */
export const RECLAIM_GRACE_SECONDS = 5;
/** How often each instance with workers looks for jobs to take back, at most. */
const RECLAIM_EVERY_SECONDS = 5;

/**
 * Active jobs whose attempt is over its timeout by the grace, still with retries left, become
 * `retry` at once (pg-boss's fetch counts the new attempt). Jobs this instance runs are left
 * alone. pg-boss 10's job table; `tests/scale-out.test.ts` kills an instance to check it.
 */
const RECLAIM_SQL = `
  UPDATE ${SCHEMA}.job
  SET state = 'retry', start_after = now(),
      output = jsonb_build_object('message', 'taken back: the instance running it stopped')
  WHERE state = 'active'
    AND started_on + expire_in + make_interval(secs => $1) < now()
    AND retry_count < retry_limit
    AND NOT (id = ANY($2::uuid[]))
  RETURNING name, id`;

export interface JobContext {
  readonly id: string;
  readonly queue: string;
}

export type JobHandler = (data: unknown, job: JobContext) => Promise<void>;

export interface QueueDefinition {
  readonly name: string;
  readonly handler: JobHandler;
  /** A cron expression: the job is sent once per tick across all instances. */
  readonly cron?: string;
}

export interface QueueCounts {
  readonly queue: string;
  readonly created: number;
  readonly retry: number;
  readonly active: number;
  readonly completed: number;
  readonly failed: number;
  readonly cancelled: number;
}

export interface JobObserver {
  processed(queue: string, outcome: "completed" | "failed"): void;
}

export interface JobQueueOptions {
  /** Whether this instance runs workers; every instance can enqueue. */
  workers: boolean;
  pollIntervalSeconds: number;
  retryLimit: number;
  retryDelaySeconds: number;
  /** How long one attempt may run; also bounds how long a dead instance's jobs wait. */
  timeoutSeconds: number;
  log: Logger;
  observer?: JobObserver;
}

type Executor = PgBoss.Db;

/** Runs pg-boss's statements on a Prisma client or transaction, so an enqueue joins the caller's transaction. */
function prismaExecutor(db: DbOrTx): Executor {
  return {
    async executeSql(text: string, values: unknown[]) {
      const rows = await db.$queryRawUnsafe<unknown[]>(text, ...values);
      return { rows };
    },
  };
}

/**
 * pg-boss's statements on the app's pool. pg-boss records a batch's outcome (complete or fail)
 * without awaiting it, so such a statement can still be running, or not yet sent, when
 * `boss.stop()` resolves: `drain()` waits for the ones in flight, and after `close()` a late
 * one is never sent and never settles (a rejection would surface as an unhandled one inside
 * pg-boss, an empty result as a TypeError). Nothing is lost: the job stays as it was, active
 * or given back for a retry by the stop, and pg-boss retries it.
 */
class PoolExecutor implements Executor {
  private readonly inflight = new Set<Promise<unknown>>();
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly log: Logger,
  ) {}

  executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }> {
    if (this.closed) {
      this.log.warn("job queue stopped: a late statement of pg-boss was not sent (its job will be retried)");
      return new Promise(() => undefined);
    }
    // Without values pg uses the simple protocol, which pg-boss needs for its multi-statement scripts.
    const query = (values && values.length > 0 ? this.pool.query(text, values) : this.pool.query(text)).then(
      (result) => ({ rows: result.rows as unknown[] }),
    );
    this.inflight.add(query);
    const forget = () => this.inflight.delete(query);
    query.then(forget, forget);
    return query;
  }

  /** Waits until no statement is in flight (a settled one may be followed by another at once). */
  async drain(deadline: number): Promise<void> {
    while (Date.now() < deadline) {
      await new Promise((resolve) => setImmediate(resolve));
      if (this.inflight.size === 0) return;
      await Promise.allSettled([...this.inflight]);
    }
  }

  close(): void {
    this.closed = true;
  }
}

/** pg-boss, once loaded: its class and this queue's two instances of it. */
interface Boss {
  readonly PgBoss: typeof PgBoss;
  /** Sends, queue settings and schedules: needs only the schema, so it is ready before listening. */
  readonly boss: PgBoss;
  /** This instance's workers, pg-boss's scheduler and maintenance: started after listening. */
  readonly runner: PgBoss;
}

export class JobQueue {
  /**
   * pg-boss is loaded on first use (`startQueues`, which the server runs while it already
   * answers liveness): its modules (cron-parser, luxon) are a tenth of a second of start-up.
   */
  private loading: Promise<Boss> | null = null;
  private loaded: Boss | null = null;
  private readonly queues = new Map<string, QueueDefinition>();
  private defined = false;
  private queuesReady = false;
  private workersWanted = false;
  private workersStarting: Promise<void> | null = null;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private reclaimTimer: NodeJS.Timeout | null = null;
  /** Jobs this instance is running, by id. */
  private readonly running = new Set<string>();
  /** Worker ids by queue, to poll at once after jobs were taken back. */
  private readonly workerIds = new Map<string, string>();

  private readonly executor: PoolExecutor;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: JobQueueOptions,
  ) {
    this.executor = new PoolExecutor(pool, options.log);
  }

  /** Loads pg-boss and makes this queue's instances of it, once. */
  private load(): Promise<Boss> {
    this.loading ??= (async () => {
      let PgBossClass: typeof PgBoss;
      try {
        PgBossClass = (await import("pg-boss")).default;
      } catch (error) {
        throw new Error(`the job queue's library (pg-boss) could not be loaded: ${String(error)}`, {
          cause: error,
        });
      }
      const { options } = this;
      const settings = {
        db: this.executor,
        schema: SCHEMA,
        migrate: true,
        retryLimit: options.retryLimit,
        retryDelay: options.retryDelaySeconds,
        retryBackoff: true,
      };
      const boss = new PgBossClass({ ...settings, supervise: false, schedule: false });
      const runner = new PgBossClass({ ...settings, supervise: options.workers, schedule: options.workers });
      for (const instance of [boss, runner]) {
        instance.on("error", (err) => {
          options.log.error({ err }, "job queue error");
        });
      }
      this.loaded = { PgBoss: PgBossClass, boss, runner };
      return this.loaded;
    })();
    // A failed load is tried again on the next use (the failure is reported where it was awaited).
    this.loading.catch(() => {
      this.loading = null;
    });
    return this.loading;
  }

  /** pg-boss, where it is loaded already (after `startQueues`). */
  private get boss(): PgBoss {
    if (!this.loaded) throw new Error("the job queue is used before startQueues");
    return this.loaded.boss;
  }

  private get runner(): PgBoss {
    if (!this.loaded) throw new Error("the job queue is used before startQueues");
    return this.loaded.runner;
  }

  /** Declares a queue and its handler; call before `start`. */
  define(queue: QueueDefinition): void {
    if (this.defined) throw new Error(`queue ${queue.name} defined after start`);
    this.queues.set(queue.name, queue);
  }

  /** `startQueues`, then `startWorkers`. */
  async start(): Promise<void> {
    await this.startQueues();
    await this.startWorkers();
  }

  /**
   * Creates the schema and queues and records the schedules: after it, `enqueue` works. With
   * the database unreachable it does not fail the server's start: it logs, retries in the
   * background (workers included, if asked for meanwhile), and calls that need the database
   * answer SERVICE_UNAVAILABLE until then.
   */
  async startQueues(): Promise<void> {
    this.defined = true;
    try {
      await this.pool.query("SELECT 1");
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err;
      // An outage, not a bug: its reason, without a stack trace.
      this.options.log.error(
        { err: { message: err instanceof Error ? err.message : String(err) } },
        "job queue waits for the database to be reachable",
      );
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        if (this.stopped) return;
        this.startQueues()
          .then(() => (this.workersWanted ? this.startWorkers() : undefined))
          .catch((error: unknown) => {
            this.options.log.error({ err: error }, "job queue could not start");
          });
      }, START_RETRY_MS);
      this.retryTimer.unref();
      return;
    }
    await this.prepare(this.queues.keys());
    for (const queue of this.queues.values()) {
      if (queue.cron) {
        try {
          await this.boss.schedule(queue.name, queue.cron);
        } catch (err) {
          throw new Error(`Invalid cron expression for ${queue.name} ("${queue.cron}"): ${String(err)}`);
        }
      }
    }
    this.queuesReady = true;
  }

  /**
   * Starts pg-boss's scheduler and maintenance and this instance's workers (when it runs
   * workers). The server does this after it listens: none of it is needed to serve a call,
   * and on the embedded database (one connection) its dozen statements would otherwise hold
   * the first call. Before `startQueues` has succeeded, it only notes that workers are wanted.
   */
  async startWorkers(): Promise<void> {
    this.workersWanted = true;
    if (!this.queuesReady || this.stopped) return;
    this.workersStarting ??= this.runWorkers();
    await this.workersStarting;
  }

  private async runWorkers(): Promise<void> {
    if (!this.options.workers) return;
    await this.runner.start();
    for (const queue of this.queues.values()) {
      if (this.stopped) return;
      const workerId: string = await this.runner.work(
        queue.name,
        { pollingIntervalSeconds: this.options.pollIntervalSeconds, batchSize: BATCH_SIZE },
        (jobs) => this.run(queue, jobs, workerId),
      );
      this.workerIds.set(queue.name, workerId);
    }
    if (this.stopped) return;
    const everyMs = Math.min(RECLAIM_EVERY_SECONDS, this.options.timeoutSeconds / 3) * 1000;
    this.reclaimTimer = setInterval(() => {
      this.reclaim().catch((err: unknown) => {
        if (isDatabaseUnavailable(err)) return; // the database's outage is reported elsewhere
        this.options.log.error({ err }, "taking back the jobs of stopped instances failed");
      });
    }, everyMs);
    this.reclaimTimer.unref();
  }

  /** Gives the jobs of instances that died back for an immediate retry (see RECLAIM_SQL). */
  async reclaim(): Promise<number> {
    const { rows } = await this.pool.query<{ name: string; id: string }>(RECLAIM_SQL, [
      RECLAIM_GRACE_SECONDS,
      [...this.running],
    ]);
    if (rows.length === 0) return 0;
    this.options.log.warn(
      { jobs: rows.map((r) => ({ queue: r.name, id: r.id })) },
      "jobs of a stopped instance taken back for a retry",
    );
    for (const name of new Set(rows.map((r) => r.name))) {
      const workerId = this.workerIds.get(name);
      if (workerId) this.runner.notifyWorker(workerId);
    }
    return rows.length;
  }

  /** The queues defined so far. */
  get queueNames(): string[] {
    return [...this.queues.keys()];
  }

  /**
   * Creates the job schema and these queues (with this instance's retry settings) without
   * starting anything: for the embedded template, so that a first start finds them made.
   */
  async createQueues(names: readonly string[]): Promise<void> {
    this.defined = true;
    await this.prepare(names);
  }

  /**
   * The schema, and the queues with these retry settings. One read of the queues that exist:
   * creating one that exists is a no-op in pg-boss, which left a changed JOB_RETRY_LIMIT or
   * JOB_RETRY_DELAY_SECONDS without effect on a database that had them already; and on a
   * restart this is one statement instead of one per queue.
   */
  private async prepare(names: Iterable<string>): Promise<void> {
    await this.load();
    await this.install();
    // Migrates pg-boss's schema if it is older than this pg-boss; starts nothing else.
    await this.boss.start();
    const existing = new Map((await this.boss.getQueues()).map((queue) => [queue.name, queue]));
    await this.ensureQueue(existing, DEAD_LETTER_QUEUE, {});
    for (const name of names) {
      await this.ensureQueue(existing, name, {
        retryLimit: this.options.retryLimit,
        retryDelay: this.options.retryDelaySeconds,
        retryBackoff: true,
        expireInSeconds: this.options.timeoutSeconds,
        deadLetter: DEAD_LETTER_QUEUE,
      });
    }
  }

  /** Creates the queue, or brings an existing one's retry settings to these. */
  private async ensureQueue(
    existing: ReadonlyMap<string, PgBoss.QueueResult>,
    name: string,
    options: Omit<PgBoss.Queue, "name">,
  ): Promise<void> {
    const current = existing.get(name);
    if (!current) {
      await this.createQueue(name, options);
      return;
    }
    const changed = (
      ["retryLimit", "retryDelay", "retryBackoff", "expireInSeconds", "deadLetter"] as const
    ).filter((key) => options[key] !== undefined && options[key] !== current[key]);
    if (changed.length === 0) return;
    await this.boss.updateQueue(name, { name, ...options });
    this.options.log.info({ queue: name, changed }, "job queue settings updated");
  }

  /**
   * Creating a queue is DDL (a partition of the job table); instances starting together can
   * deadlock on it. PostgreSQL then aborts one of them, and that one simply tries again:
   * by then the queue exists and creating it is a no-op.
   */
  private async createQueue(name: string, options: Omit<PgBoss.Queue, "name">): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.boss.createQueue(name, { name, ...options });
        return;
      } catch (err) {
        const code = err instanceof Error && "code" in err ? err.code : null;
        const transient = code === "40P01" || code === "23505" || code === "42P07";
        if (!transient || attempt >= 5) throw err;
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt + Math.random() * 100));
      }
    }
  }

  /**
   * Creates pg-boss's schema if it is missing. pg-boss checks "installed?" before taking its
   * own lock, so two instances starting on a new database may both try; pg-boss's script is one
   * transaction under an advisory lock, so the second fails once the first has committed, and
   * finds it installed. No session lock, so this works behind a pooler in transaction mode.
   * One connection, which the embedded pool (one) also allows.
   */
  private async install(): Promise<void> {
    const installed = async (client: pg.PoolClient) => {
      const { rows } = await client.query<{ installed: string | null }>(
        "SELECT to_regclass($1) AS installed",
        [`${SCHEMA}.version`],
      );
      return rows[0]?.installed != null;
    };
    const client = await this.pool.connect();
    try {
      if (await installed(client)) return;
      try {
        await client.query((await this.load()).PgBoss.getConstructionPlans(SCHEMA));
      } catch (error) {
        // The script's own BEGIN is still open after its failed statement.
        await client.query("ROLLBACK");
        if (!(await installed(client))) throw error;
      }
    } finally {
      client.release();
    }
  }

  /**
   * Runs a claimed batch. Each job fails on its own (pg-boss then completes only the jobs still
   * active), and a full batch means a backlog: the worker is told to poll again at once
   * instead of sleeping its interval.
   */
  private async run(queue: QueueDefinition, jobs: PgBoss.Job<unknown>[], workerId: string): Promise<void> {
    await Promise.all(jobs.map((job) => this.runOne(queue, job)));
    if (jobs.length === BATCH_SIZE) this.runner.notifyWorker(workerId);
  }

  /**
   * One job of a batch, recorded as soon as it ends rather than with its batch: a crash then
   * repeats only the attempts still running, not the sends its batch had finished already.
   */
  private async runOne(queue: QueueDefinition, job: PgBoss.Job<unknown>): Promise<void> {
    this.running.add(job.id);
    try {
      await queue.handler(job.data, { id: job.id, queue: queue.name });
    } catch (reason) {
      this.options.observer?.processed(queue.name, "failed");
      const message = reason instanceof Error ? reason.message : String(reason);
      this.options.log.warn({ err: reason, queue: queue.name, jobId: job.id }, "job attempt failed");
      await this.runner.fail(queue.name, job.id, { message }).catch((err: unknown) => {
        // Still active: retried once its timeout is past.
        this.options.log.error(
          { err, queue: queue.name, jobId: job.id },
          "recording a failed job attempt failed",
        );
      });
      return;
    } finally {
      this.running.delete(job.id);
    }
    this.options.observer?.processed(queue.name, "completed");
    await this.runner.complete(queue.name, job.id).catch((err: unknown) => {
      // pg-boss completes the batch's remaining active jobs once the batch ends.
      this.options.log.warn({ err, queue: queue.name, jobId: job.id }, "recording a completed job failed");
    });
  }

  /**
   * Adds a job as part of `db`: pass the transaction client of the write that asks for it, and
   * the job commits or rolls back with that write.
   */
  async enqueue(db: DbOrTx, queue: string, data: object): Promise<void> {
    if (!this.queues.has(queue)) throw new Error(`unknown queue ${queue}`);
    const { boss } = this.loaded ?? (await this.load());
    await boss.send(queue, data, { db: prismaExecutor(db) });
  }

  /** Jobs per queue and state, the dead-letter queue included. */
  async counts(): Promise<QueueCounts[]> {
    const { rows } = await this.pool.query<{ name: string; state: string; size: number }>(
      `SELECT name, state::text AS state, count(*)::int AS size FROM ${SCHEMA}.job GROUP BY name, state`,
    );
    const byQueue = new Map<string, QueueCounts>();
    for (const name of [...this.queues.keys(), DEAD_LETTER_QUEUE]) {
      byQueue.set(name, {
        queue: name,
        created: 0,
        retry: 0,
        active: 0,
        completed: 0,
        failed: 0,
        cancelled: 0,
      });
    }
    for (const row of rows) {
      const current = byQueue.get(row.name);
      if (current && row.state in current) byQueue.set(row.name, { ...current, [row.state]: row.size });
    }
    return [...byQueue.values()];
  }

  /** Stops polling and waits for running jobs (up to `timeoutMs`); the pool stays open. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.reclaimTimer) clearInterval(this.reclaimTimer);
    const timeout = Math.max(timeoutMs, 1000);
    const deadline = Date.now() + timeout;
    if (this.workersStarting) {
      // Workers still starting are stopped once started (a failure to start was reported already).
      await this.workersStarting.catch(() => undefined);
      await this.runner.stop({ graceful: true, wait: true, close: false, timeout });
    }
    // Never loaded: nothing of pg-boss was started.
    await this.loaded?.boss.stop({ graceful: true, wait: true, close: false, timeout });
    await this.executor.drain(deadline);
    this.executor.close();
  }
}
