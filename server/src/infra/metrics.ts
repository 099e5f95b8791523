import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type pg from "pg";
import type { CacheObserver } from "./cache/cache.js";
import type { JobObserver, QueueCounts } from "./jobs.js";
import type { Logger } from "./logger.js";

/**
 * Prometheus metrics, in a registry of this server's own (tests run several servers in one
 * process). Served at /metrics by `http/metrics.ts`.
 */
export class Metrics implements CacheObserver, JobObserver {
  readonly registry = new Registry();
  private readonly calls: Counter<"procedure" | "type" | "code">;
  private readonly duration: Histogram<"procedure" | "type">;
  private readonly cacheLookups: Counter<"cache" | "result">;
  private readonly jobsProcessed: Counter<"queue" | "outcome">;

  constructor(sources: {
    pool: pg.Pool;
    poolSize: number;
    jobCounts: () => Promise<QueueCounts[]>;
    log: Logger;
  }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "agora_", eventLoopMonitoringPrecision: 10 });

    this.calls = new Counter({
      name: "agora_procedure_calls_total",
      help: "Procedure calls by procedure, type and outcome code (OK or the tRPC error code)",
      labelNames: ["procedure", "type", "code"],
      registers,
    });
    this.duration = new Histogram({
      name: "agora_procedure_duration_seconds",
      help: "Time spent in a procedure, from its first middleware to its result",
      labelNames: ["procedure", "type"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.cacheLookups = new Counter({
      name: "agora_cache_lookups_total",
      help: "Cache lookups by cache and result (hit, miss, error)",
      labelNames: ["cache", "result"],
      registers,
    });
    this.jobsProcessed = new Counter({
      name: "agora_jobs_processed_total",
      help: "Job attempts run by this instance, by queue and outcome",
      labelNames: ["queue", "outcome"],
      registers,
    });

    const { pool, poolSize } = sources;
    new Gauge({
      name: "agora_db_pool_connections",
      help: "Database pool connections by state (in use, idle) and the pool's size",
      labelNames: ["state"],
      registers,
      collect() {
        this.set({ state: "in_use" }, pool.totalCount - pool.idleCount);
        this.set({ state: "idle" }, pool.idleCount);
        this.set({ state: "max" }, poolSize);
      },
    });
    new Gauge({
      name: "agora_db_pool_waiting_requests",
      help: "Queries waiting for a free database connection",
      registers,
      collect() {
        this.set(pool.waitingCount);
      },
    });
    new Gauge({
      name: "agora_jobs",
      help: "Jobs in the queue tables by queue and state (failed: retries exhausted; the dead-letter queue holds their copies)",
      labelNames: ["queue", "state"],
      registers,
      async collect() {
        try {
          for (const counts of await sources.jobCounts()) {
            const { queue, ...states } = counts;
            for (const [state, size] of Object.entries(states)) this.set({ queue, state }, size);
          }
        } catch (err) {
          sources.log.warn({ err }, "job counts unavailable for metrics");
        }
      },
    });
  }

  observeCall(procedure: string, type: string, code: string, seconds: number): void {
    this.calls.inc({ procedure, type, code });
    this.duration.observe({ procedure, type }, seconds);
  }

  hit(cache: string): void {
    this.cacheLookups.inc({ cache, result: "hit" });
  }
  miss(cache: string): void {
    this.cacheLookups.inc({ cache, result: "miss" });
  }
  error(cache: string): void {
    this.cacheLookups.inc({ cache, result: "error" });
  }

  processed(queue: string, outcome: "completed" | "failed"): void {
    this.jobsProcessed.inc({ queue, outcome });
  }
}
