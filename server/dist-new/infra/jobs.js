import PgBoss from "pg-boss";
import { isDatabaseUnavailable } from "../shared/prisma-errors.js";
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
 * Every statement runs on the application's pool (the embedded database serves one connection,
 * and pg-boss polls rather than LISTENs, so it shares it).
 */
export const DEAD_LETTER_QUEUE = "dead-letter";
const SCHEMA = "pgboss";
const START_RETRY_MS = 5_000;
/** Serialises the first creation of the job schema among instances starting together. */
const INSTALL_LOCK = 0x61676f72; // "agor"
/** Jobs claimed per poll; they run concurrently (mail sends overlap their network waits). */
const BATCH_SIZE = 10;
/** Runs pg-boss's statements on a Prisma client or transaction, so an enqueue joins the caller's transaction. */
function prismaExecutor(db) {
    return {
        async executeSql(text, values) {
            const rows = await db.$queryRawUnsafe(text, ...values);
            return { rows };
        },
    };
}
function poolExecutor(pool) {
    return {
        async executeSql(text, values) {
            // Without values pg uses the simple protocol, which pg-boss needs for its multi-statement scripts.
            const result = values && values.length > 0 ? await pool.query(text, values) : await pool.query(text);
            return { rows: result.rows };
        },
    };
}
export class JobQueue {
    pool;
    options;
    boss;
    queues = new Map();
    started = false;
    stopped = false;
    retryTimer = null;
    constructor(pool, options) {
        this.pool = pool;
        this.options = options;
        this.boss = new PgBoss({
            db: poolExecutor(pool),
            schema: SCHEMA,
            supervise: options.workers,
            schedule: options.workers,
            migrate: true,
            retryLimit: options.retryLimit,
            retryDelay: options.retryDelaySeconds,
            retryBackoff: true,
        });
        this.boss.on("error", (err) => {
            options.log.error({ err }, "job queue error");
        });
    }
    /** Declares a queue and its handler; call before `start`. */
    define(queue) {
        if (this.started)
            throw new Error(`queue ${queue.name} defined after start`);
        this.queues.set(queue.name, queue);
    }
    /**
     * Creates the schema and queues, then starts this instance's workers and schedules. With the
     * database unreachable it does not fail the server's start: it logs, retries in the
     * background, and meanwhile calls that need the database answer SERVICE_UNAVAILABLE.
     */
    async start() {
        try {
            await this.pool.query("SELECT 1");
        }
        catch (err) {
            if (!isDatabaseUnavailable(err))
                throw err;
            this.options.log.error({ err }, "job queue waits for the database to be reachable");
            this.retryTimer = setTimeout(() => {
                this.retryTimer = null;
                if (!this.stopped) {
                    this.start().catch((error) => {
                        this.options.log.error({ err: error }, "job queue could not start");
                    });
                }
            }, START_RETRY_MS);
            this.retryTimer.unref();
            return;
        }
        await this.startNow();
    }
    async startNow() {
        await this.install();
        await this.boss.start();
        await this.createQueue(DEAD_LETTER_QUEUE, {});
        for (const queue of this.queues.values()) {
            await this.createQueue(queue.name, {
                retryLimit: this.options.retryLimit,
                retryDelay: this.options.retryDelaySeconds,
                retryBackoff: true,
                deadLetter: DEAD_LETTER_QUEUE,
            });
            if (queue.cron) {
                try {
                    await this.boss.schedule(queue.name, queue.cron);
                }
                catch (err) {
                    throw new Error(`Invalid cron expression for ${queue.name} ("${queue.cron}"): ${String(err)}`);
                }
            }
        }
        this.started = true;
        if (!this.options.workers)
            return;
        for (const queue of this.queues.values()) {
            const workerId = await this.boss.work(queue.name, { pollingIntervalSeconds: this.options.pollIntervalSeconds, batchSize: BATCH_SIZE }, (jobs) => this.run(queue, jobs, workerId));
        }
    }
    /**
     * Creating a queue is DDL (a partition of the job table); instances starting together can
     * deadlock on it. PostgreSQL then aborts one of them, and that one simply tries again:
     * by then the queue exists and creating it is a no-op.
     */
    async createQueue(name, options) {
        for (let attempt = 1;; attempt += 1) {
            try {
                await this.boss.createQueue(name, { name, ...options });
                return;
            }
            catch (err) {
                const code = err instanceof Error && "code" in err ? err.code : null;
                const transient = code === "40P01" || code === "23505" || code === "42P07";
                if (!transient || attempt >= 5)
                    throw err;
                await new Promise((resolve) => setTimeout(resolve, 50 * attempt + Math.random() * 100));
            }
        }
    }
    /**
     * Creates pg-boss's schema if it is missing, under a lock. pg-boss checks "installed?" before
     * taking its own lock, so two instances starting on a new database would both try to create
     * it and one would fail. Done on one connection, which the embedded pool (one) also allows.
     */
    async install() {
        const client = await this.pool.connect();
        try {
            await client.query("SELECT pg_advisory_lock($1)", [INSTALL_LOCK]);
            try {
                const { rows } = await client.query("SELECT to_regclass($1) AS installed", [`${SCHEMA}.version`]);
                if (!rows[0]?.installed)
                    await client.query(PgBoss.getConstructionPlans(SCHEMA));
            }
            finally {
                await client.query("SELECT pg_advisory_unlock($1)", [INSTALL_LOCK]);
            }
        }
        finally {
            client.release();
        }
    }
    /**
     * Runs a claimed batch. Each job fails on its own (pg-boss then completes only the jobs still
     * active), and a full batch means a backlog: the worker is told to poll again at once
     * instead of sleeping its interval.
     */
    async run(queue, jobs, workerId) {
        const outcomes = await Promise.allSettled(jobs.map((job) => queue.handler(job.data, { id: job.id, queue: queue.name })));
        for (const [index, outcome] of outcomes.entries()) {
            const job = jobs[index];
            if (!job)
                continue;
            if (outcome.status === "fulfilled") {
                this.options.observer?.processed(queue.name, "completed");
                continue;
            }
            this.options.observer?.processed(queue.name, "failed");
            const reason = outcome.reason;
            const message = reason instanceof Error ? reason.message : String(reason);
            this.options.log.warn({ err: reason, queue: queue.name, jobId: job.id }, "job attempt failed");
            await this.boss.fail(queue.name, job.id, { message });
        }
        if (jobs.length === BATCH_SIZE)
            this.boss.notifyWorker(workerId);
    }
    /**
     * Adds a job as part of `db`: pass the transaction client of the write that asks for it, and
     * the job commits or rolls back with that write.
     */
    async enqueue(db, queue, data) {
        if (!this.queues.has(queue))
            throw new Error(`unknown queue ${queue}`);
        await this.boss.send(queue, data, { db: prismaExecutor(db) });
    }
    /** Jobs per queue and state, the dead-letter queue included. */
    async counts() {
        const { rows } = await this.pool.query(`SELECT name, state::text AS state, count(*)::int AS size FROM ${SCHEMA}.job GROUP BY name, state`);
        const byQueue = new Map();
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
            if (current && row.state in current)
                byQueue.set(row.name, { ...current, [row.state]: row.size });
        }
        return [...byQueue.values()];
    }
    /** Stops polling and waits for running jobs (up to `timeoutMs`); the pool stays open. */
    async stop(timeoutMs) {
        this.stopped = true;
        if (this.retryTimer)
            clearTimeout(this.retryTimer);
        if (!this.started)
            return;
        this.started = false;
        await this.boss.stop({ graceful: true, wait: true, close: false, timeout: Math.max(timeoutMs, 1000) });
    }
}
//# sourceMappingURL=jobs.js.map