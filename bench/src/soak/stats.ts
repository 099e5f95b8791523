import { createHistogram, type RecordableHistogram } from "node:perf_hooks";

/** How one call ended, as the load generator saw it. */
export type Outcome =
  | { kind: "ok" }
  /** The error code the call was designed to get (a deliberately bad call). */
  | { kind: "expected"; code: string }
  /** Anything else: `status` is the HTTP status, null for a transport failure (no response). */
  | { kind: "error"; code: string; status: number | null; detail: string };

/** Latencies in Node's HDR histogram (microseconds): bounded memory for a run of any length. */
class Latency {
  private readonly histogram: RecordableHistogram = createHistogram();

  add(ms: number): void {
    this.histogram.record(Math.max(1, Math.round(ms * 1000)));
  }
  get count(): number {
    return this.histogram.count;
  }
  /** Milliseconds; NaN when nothing was recorded. */
  percentile(p: number): number {
    return this.histogram.count === 0 ? Number.NaN : this.histogram.percentile(p) / 1000;
  }
  get maxMs(): number {
    return this.histogram.count === 0 ? Number.NaN : this.histogram.max / 1000;
  }
}

/** One period of the run (a minute by default): what the per-minute lines print. */
export class Window {
  readonly latency = new Latency();
  /** Responses with an HTTP status of 500 or more (and SSE errors that carry one). */
  server5xx = 0;
  /** Failures without a response: connection refused or reset, timeouts. */
  transport = 0;
  expected = 0;
  unexpected = 0;
  sseEvents = 0;
  /** Calls the schedule wanted but did not send because too many were in flight (server behind). */
  skipped = 0;

  constructor(
    readonly index: number,
    readonly startMs: number,
    readonly endMs: number,
  ) {}
}

export interface ErrorTally {
  count: number;
  /** The first occurrence, for the report. */
  example: string;
}

export interface OpTally {
  latency: Latency;
  expected: number;
  unexpected: number;
}

/**
 * Everything the load records, by period and by procedure. Times are milliseconds since the
 * load started; calls are counted in the period in which they completed.
 */
export class Stats {
  readonly windows: Window[] = [];
  readonly ops = new Map<string, OpTally>();
  /** Key: `procedure CODE` (or `procedure HTTP status`). */
  readonly unexpected = new Map<string, ErrorTally>();
  readonly expected = new Map<string, number>();
  server5xx = 0;
  transport = 0;
  sseEvents = 0;
  skipped = 0;
  private origin = performance.now();

  constructor(
    readonly windowMs: number,
    readonly durationMs: number,
  ) {}

  /** Time 0 of the run: the moment the load starts. */
  begin(): void {
    this.origin = performance.now();
  }

  elapsedMs(): number {
    return performance.now() - this.origin;
  }

  /** The period `at` falls in; a call finishing after the end counts in the last one. */
  window(at = this.elapsedMs()): Window {
    const last = Math.max(0, Math.ceil(this.durationMs / this.windowMs) - 1);
    const index = Math.min(Math.max(0, Math.floor(at / this.windowMs)), last);
    for (let i = this.windows.length; i <= index; i += 1) {
      this.windows.push(new Window(i, i * this.windowMs, Math.min((i + 1) * this.windowMs, this.durationMs)));
    }
    const window = this.windows[index];
    if (!window) throw new Error(`unreachable: no window ${index}`);
    return window;
  }

  record(op: string, ms: number, outcome: Outcome): void {
    const window = this.window();
    let tally = this.ops.get(op);
    if (!tally) {
      tally = { latency: new Latency(), expected: 0, unexpected: 0 };
      this.ops.set(op, tally);
    }
    window.latency.add(ms);
    tally.latency.add(ms);
    if (outcome.kind === "expected") {
      window.expected += 1;
      tally.expected += 1;
      const key = `${op} ${outcome.code}`;
      this.expected.set(key, (this.expected.get(key) ?? 0) + 1);
    } else if (outcome.kind === "error") {
      this.recordError(op, outcome);
      tally.unexpected += 1;
    }
  }

  /** An unexpected error outside a timed call (e.g. an event stream that broke). */
  recordError(op: string, outcome: Extract<Outcome, { kind: "error" }>): void {
    const window = this.window();
    window.unexpected += 1;
    if (outcome.status !== null && outcome.status >= 500) {
      window.server5xx += 1;
      this.server5xx += 1;
    }
    if (outcome.status === null) {
      window.transport += 1;
      this.transport += 1;
    }
    const key = `${op} ${outcome.code}${outcome.status !== null ? ` (HTTP ${outcome.status})` : ""}`;
    const tally = this.unexpected.get(key);
    if (tally) tally.count += 1;
    else this.unexpected.set(key, { count: 1, example: outcome.detail.slice(0, 300) });
  }

  sseEvent(): void {
    this.window().sseEvents += 1;
    this.sseEvents += 1;
  }

  skip(): void {
    this.window().skipped += 1;
    this.skipped += 1;
  }
}

/** One reading of the server process. */
export interface MemorySample {
  /** Milliseconds since the load started (negative: before it). */
  atMs: number;
  rssBytes: number;
  heapUsedBytes: number | null;
  heapTotalBytes: number | null;
  /** Memory of C++ objects bound to JS ones (Buffers, ...), outside the heap. */
  externalBytes: number | null;
  activeHandles: number | null;
  /** The server's event-loop delay p99 since the previous scrape (prom-client resets it). */
  eventLoopP99Ms: number | null;
  /** CPU time (user + system) the server process has used since it started. */
  cpuSeconds: number | null;
}

/** The server's CPU use between two samples, in percent of one core. */
export function cpuPercent(from: MemorySample | undefined, to: MemorySample | undefined): number | null {
  if (!from || !to || from.cpuSeconds === null || to.cpuSeconds === null || to.atMs <= from.atMs) return null;
  return ((to.cpuSeconds - from.cpuSeconds) / ((to.atMs - from.atMs) / 1000)) * 100;
}

export const mb = (bytes: number | null) => (bytes === null ? "?" : `${(bytes / 1024 / 1024).toFixed(0)} MB`);

export const fmtMs = (v: number) => (Number.isNaN(v) ? "-" : v >= 100 ? v.toFixed(0) : v.toFixed(1));

export function clock(atMs: number): string {
  const s = Math.max(0, Math.round(atMs / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Least-squares slope of RSS over time, in MB per minute. */
export function rssSlopeMbPerMin(samples: readonly MemorySample[]): number {
  if (samples.length < 2) return Number.NaN;
  const xs = samples.map((s) => s.atMs / 60_000);
  const ys = samples.map((s) => s.rssBytes / 1024 / 1024);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i += 1) {
    const dx = (xs[i] ?? 0) - mx;
    num += dx * ((ys[i] ?? 0) - my);
    den += dx * dx;
  }
  return den === 0 ? Number.NaN : num / den;
}

/** Left-aligned first column, right-aligned others. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
        .join("  "),
    )
    .join("\n");
}
