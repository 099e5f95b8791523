/**
 * `pnpm soak`: runs Agora as production does (`node server/dist/main.js`, NODE_ENV=production)
 * for a while under a modest mixed load from this process, samples the server's memory from
 * its /metrics, and fails on any 5xx, any unexpected error, or RSS that kept growing after the
 * warm-up. See bench/README.md, "Soak".
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { openBenchDatabase } from "../postgres.js";
import {
  baseEnv,
  Cleanups,
  freePort,
  log,
  Managed,
  median,
  repoRoot,
  runOrThrow,
  waitForOk,
} from "../procs.js";
import { openBenchRedis } from "../redis.js";
import { SoakClient } from "./client.js";
import { SoakLoad, type LoadOptions } from "./load.js";
import { ServerSampler, type Scrape } from "./sampler.js";
import {
  clock,
  cpuPercent,
  fmtMs,
  mb,
  rssSlopeMbPerMin,
  Stats,
  table,
  type MemorySample,
  type Window,
} from "./stats.js";

const HELP = `pnpm soak [options]     (every option also has an environment variable)

  --seconds N         length of the load, default 300                          SOAK_SECONDS
  --warmup N          seconds before the "after warm-up" memory reading;        SOAK_WARMUP_SECONDS
                      default 20% of the run, at least 60, at most half of it
  --rate N            calls started per second (open loop), default 40          SOAK_RATE
  --max-in-flight N   calls in flight before due calls are skipped, default 32  SOAK_MAX_IN_FLIGHT
  --subscriptions N   markets.onEvent streams kept open, default 8              SOAK_SUBSCRIPTIONS
  --window N          seconds per progress line and per p99, default 60         SOAK_WINDOW_SECONDS
  --rss-growth P      allowed RSS growth after warm-up, percent, default 20     SOAK_RSS_GROWTH
  --postgres          real PostgreSQL + Redis (DATABASE_URL / REDIS_URL, else   SOAK_MODE=postgres
                      throwaway servers); the default when DATABASE_URL is set
  --embedded          the embedded default (PGlite), even if DATABASE_URL is set SOAK_MODE=embedded
  --build / --no-build  build the server first; default: only if server/dist   SOAK_BUILD=1|0
                      is missing or older than server/src
  --keep              keep the work folder (server log, data, samples.csv)      SOAK_KEEP=1
                      even when it passes
  SOAK_NODE_OPTIONS   NODE_OPTIONS of the server, e.g. --heapsnapshot-signal=SIGUSR2
`;

const JWT_SECRET = "soak-only-secret-0123456789-abcdefghijklmnop";
const METRICS_TOKEN = "soak-only-metrics-token-0123456789";
const SAMPLE_EVERY_MS = 5_000;

interface Options {
  seconds: number;
  warmupSeconds: number;
  rate: number;
  maxInFlight: number;
  subscriptions: number;
  windowSeconds: number;
  rssGrowthPercent: number;
  mode: "embedded" | "postgres";
  build: boolean | "if-stale";
  keep: boolean;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: "string" },
      warmup: { type: "string" },
      rate: { type: "string" },
      "max-in-flight": { type: "string" },
      subscriptions: { type: "string" },
      window: { type: "string" },
      "rss-growth": { type: "string" },
      postgres: { type: "boolean" },
      embedded: { type: "boolean" },
      build: { type: "boolean" },
      "no-build": { type: "boolean" },
      keep: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return null;
  const number = (flag: string, envName: string, fallback: number, min: number): number => {
    const given = (values as Record<string, unknown>)[flag];
    const raw = typeof given === "string" ? given : process.env[envName];
    if (raw === undefined || raw.trim() === "") return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min) {
      const source = typeof given === "string" ? `--${flag}` : envName;
      throw new Error(`${source} must be a number >= ${min} (got "${raw}")`);
    }
    return value;
  };
  const seconds = number("seconds", "SOAK_SECONDS", 300, 10);
  const defaultWarmup = Math.min(Math.max(60, seconds * 0.2), seconds / 2);
  const warmupSeconds = number("warmup", "SOAK_WARMUP_SECONDS", defaultWarmup, 0);
  if (warmupSeconds >= seconds) throw new Error("the warm-up must be shorter than the run");
  const envMode = process.env.SOAK_MODE?.trim();
  if (envMode && envMode !== "embedded" && envMode !== "postgres") {
    throw new Error(`SOAK_MODE must be embedded or postgres (got "${envMode}")`);
  }
  if (values.postgres && values.embedded) throw new Error("--postgres and --embedded exclude each other");
  const mode = values.postgres
    ? "postgres"
    : values.embedded
      ? "embedded"
      : ((envMode as Options["mode"] | undefined) ??
        (process.env.DATABASE_URL?.trim() ? "postgres" : "embedded"));
  const envBuild = process.env.SOAK_BUILD?.trim();
  const build = values.build
    ? true
    : values["no-build"]
      ? false
      : envBuild === "1"
        ? true
        : envBuild === "0"
          ? false
          : "if-stale";
  return {
    seconds,
    warmupSeconds,
    rate: number("rate", "SOAK_RATE", 40, 1),
    maxInFlight: number("max-in-flight", "SOAK_MAX_IN_FLIGHT", 32, 1),
    subscriptions: number("subscriptions", "SOAK_SUBSCRIPTIONS", 8, 0),
    windowSeconds: number("window", "SOAK_WINDOW_SECONDS", 60, 5),
    rssGrowthPercent: number("rss-growth", "SOAK_RSS_GROWTH", 20, 0),
    mode,
    build,
    keep: values.keep === true || process.env.SOAK_KEEP === "1",
  };
}

const cleanups = new Cleanups();

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    newest = Math.max(newest, (await stat(path.join(entry.parentPath, entry.name))).mtimeMs);
  }
  return newest;
}

async function buildIfNeeded(build: Options["build"]): Promise<void> {
  if (build === false) return;
  if (build === "if-stale") {
    const built = await stat(path.join(repoRoot, "server", "dist", "main.js")).catch(() => null);
    const sources = await newestMtime(path.join(repoRoot, "server", "src"));
    if (built && built.mtimeMs >= sources) {
      log("  server/dist is up to date (--build to rebuild)");
      return;
    }
  }
  log("  building the server: pnpm --filter @agora/server build");
  await runOrThrow("pnpm", ["--filter", "@agora/server", "build"]);
}

/** The server's log lines at level error (50) or above: count and the first few messages. */
async function serverErrors(logFile: string): Promise<{ count: number; first: string[] }> {
  const text = await readFile(logFile, "utf8").catch(() => "");
  const first: string[] = [];
  let count = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const entry: unknown = JSON.parse(line);
      if (typeof entry !== "object" || entry === null) continue;
      const level = "level" in entry ? entry.level : null;
      if (typeof level === "number" && level >= 50) {
        count += 1;
        if (first.length < 3) first.push(line.slice(0, 400));
      }
    } catch {
      // not a log entry
    }
  }
  return { count, first };
}

const fmtInt = (v: number) => Math.round(v).toLocaleString("en-US");
const pct = (v: number) => `${v >= 0 ? "+" : ""}${v.toFixed(1)}%`;

interface Reading {
  at: string;
  rssBytes: number;
  heapUsedBytes: number | null;
  activeHandles: number | null;
}

/** Medians of the samples taken from `fromMs` to `toMs`; null if there are none. */
function reading(samples: readonly MemorySample[], fromMs: number, toMs: number): Reading | null {
  const span = samples.filter((s) => s.atMs >= fromMs && s.atMs <= toMs);
  const first = span[0];
  const lastOfSpan = span.at(-1);
  if (!first || !lastOfSpan) return null;
  const of = (values: (number | null)[]) => {
    const known = values.filter((v): v is number => v !== null);
    return known.length === 0 ? null : median(known);
  };
  return {
    at: span.length === 1 ? clock(first.atMs) : `${clock(first.atMs)}-${clock(lastOfSpan.atMs)}`,
    rssBytes: median(span.map((s) => s.rssBytes)),
    heapUsedBytes: of(span.map((s) => s.heapUsedBytes)),
    activeHandles: of(span.map((s) => s.activeHandles)),
  };
}

/** The last sample taken by `atMs` (with half a sampling period of slack). */
function sampleAt(samples: readonly MemorySample[], atMs: number): MemorySample | undefined {
  return samples.findLast((s) => s.atMs <= atMs + SAMPLE_EVERY_MS / 2) ?? samples[0];
}

function windowCpu(samples: readonly MemorySample[], w: Window): number | null {
  return cpuPercent(sampleAt(samples, w.startMs), sampleAt(samples, w.endMs));
}

function windowLine(w: Window, samples: readonly MemorySample[]): string {
  const seconds = (w.endMs - w.startMs) / 1000;
  const n = w.latency.count;
  const parts = [
    `[${clock(w.endMs)}] ${fmtInt(n)} calls (${(n / seconds).toFixed(1)}/s)`,
    `p50 ${fmtMs(w.latency.percentile(50))} ms, p99 ${fmtMs(w.latency.percentile(99))} ms, max ${fmtMs(w.latency.maxMs)} ms`,
    `5xx ${w.server5xx}, unexpected ${w.unexpected}, expected ${w.expected}${w.skipped > 0 ? `, skipped ${w.skipped}` : ""}`,
    `${fmtInt(w.sseEvents)} events`,
  ];
  const sample = samples.at(-1);
  if (sample) {
    const cpu = windowCpu(samples, w);
    parts.push(
      `RSS ${mb(sample.rssBytes)}, heap ${mb(sample.heapUsedBytes)}` +
        (cpu !== null ? `, server CPU ${cpu.toFixed(0)}%` : "") +
        (sample.eventLoopP99Ms !== null ? `, loop p99 ${fmtMs(sample.eventLoopP99Ms)} ms` : ""),
    );
  }
  return `  ${parts.join(" | ")}`;
}

/** Every memory sample, for a closer look (kept with the server log). */
async function writeSamples(file: string, samples: readonly MemorySample[]): Promise<void> {
  const v = (x: number | null, scale = 1) => (x === null ? "" : (x / scale).toFixed(scale === 1 ? 3 : 1));
  const MB = 1024 * 1024;
  const rows = samples.map((s) =>
    [
      (s.atMs / 1000).toFixed(1),
      v(s.rssBytes, MB),
      v(s.heapUsedBytes, MB),
      v(s.heapTotalBytes, MB),
      v(s.externalBytes, MB),
      v(s.activeHandles),
      v(s.cpuSeconds),
      v(s.eventLoopP99Ms),
    ].join(","),
  );
  const header =
    "seconds,rss_mb,heap_used_mb,heap_total_mb,external_mb,active_handles,cpu_seconds,loop_p99_ms";
  await writeFile(file, `${[header, ...rows].join("\n")}\n`);
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2).filter((a) => a !== "--"));
  if (!options) {
    process.stdout.write(HELP);
    return 0;
  }
  const durationMs = options.seconds * 1000;
  const warmupMs = options.warmupSeconds * 1000;
  const workDir = await mkdtemp(path.join(os.tmpdir(), "agora-soak-"));
  let passed = false;
  cleanups.add(async () => {
    if (options.keep || !passed) log(`Server log and data kept in ${workDir}`);
    else await rm(workDir, { recursive: true, force: true });
  });

  log(
    `Agora soak: ${options.seconds} s of load (memory "after warm-up" at ${clock(warmupMs)}), ${options.rate} calls/s, ` +
      `${options.subscriptions} live streams, ${options.mode === "embedded" ? "embedded default (PGlite)" : "PostgreSQL + Redis"}`,
  );
  await buildIfNeeded(options.build);

  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(),
    PORT: String(port),
    JWT_SECRET,
    METRICS_TOKEN,
    // Behind a load balancer, as production runs: the load comes from many client addresses
    // (X-Forwarded-For), so the per-IP rate limits stay on at their defaults without tripping.
    TRUST_PROXY: "1",
    // e.g. --heapsnapshot-signal=SIGUSR2, to take heap snapshots of the running server.
    ...(process.env.SOAK_NODE_OPTIONS ? { NODE_OPTIONS: process.env.SOAK_NODE_OPTIONS } : {}),
  };
  // The bench's servers stop at once; this one shuts down as production does (SHUTDOWN_DELAY_MS).
  delete env.SHUTDOWN_DELAY_MS;
  if (options.mode === "embedded") {
    env.DATA_DIR = path.join(workDir, "data");
    log(`  embedded database in ${env.DATA_DIR}`);
  } else {
    const db = await openBenchDatabase();
    cleanups.add(() => db.close());
    env.DATABASE_URL = db.url;
    log(
      `  PostgreSQL ${db.version} (${db.source}): database ${new URL(db.url).pathname.slice(1)}, dropped at the end`,
    );
    const redis = await openBenchRedis(workDir);
    if (redis) {
      cleanups.add(() => redis.close());
      env.REDIS_URL = redis.url;
      env.REDIS_KEY_PREFIX = `agora-soak-${Date.now().toString(36)}:`;
      log(`  Redis (${redis.source}), key prefix ${env.REDIS_KEY_PREFIX} (every key has a TTL)`);
    } else {
      log("  note: no Redis (REDIS_URL unset, no redis-server): cache, limits and events in process");
    }
  }

  const logFile = path.join(workDir, "server.log");
  const server = Managed.start("agora", process.execPath, ["server/dist/main.js"], { env, logFile });
  cleanups.add(() => server.stop(15_000));
  const url = `http://127.0.0.1:${port}`;
  const bootMs = await waitForOk(`${url}/healthz`, server, 120_000);
  log(
    `  server up in ${(bootMs / 1000).toFixed(1)} s: pid ${server.child.pid ?? "?"}, ${url}, log ${logFile}`,
  );

  const stats = new Stats(options.windowSeconds * 1000, durationMs);
  const setupStats = new Stats(60_000, 60_000);
  const loadOptions: LoadOptions = {
    rate: options.rate,
    maxInFlight: options.maxInFlight,
    subscriptions: options.subscriptions,
    reopenEveryMs: 30_000,
  };
  const load = await SoakLoad.setup(
    new SoakClient(url, setupStats),
    setupStats,
    new SoakClient(url, stats),
    stats,
    loadOptions,
  );
  log("  set up through the API: 8 accounts, 4 hot markets with 3 products each, 20 more markets");

  const sampler = new ServerSampler(url, METRICS_TOKEN, server.child.pid);
  const samples: MemorySample[] = [];
  const scrapeErrors: string[] = [];
  const take = async (): Promise<Scrape | null> => {
    const { sample, scrape, error } = await sampler.sample(stats.elapsedMs());
    samples.push(sample);
    if (error) scrapeErrors.push(error);
    return scrape;
  };
  // Load time 0 is now: the first sample is "start".
  stats.begin();
  const startScrape = await take();
  log(`  start: RSS ${mb(samples[0]?.rssBytes ?? null)}, heap used ${mb(samples[0]?.heapUsedBytes ?? null)}`);
  log("");

  const loadCpu = process.cpuUsage();
  load.start();
  let printed = 0;
  const state = { died: false };
  let lastSampleAt = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = stats.elapsedMs();
      if (!server.running) {
        state.died = true;
        clearInterval(timer);
        resolve();
        return;
      }
      if (now - lastSampleAt >= SAMPLE_EVERY_MS && now < durationMs) {
        lastSampleAt = now;
        take().catch((error: unknown) => {
          scrapeErrors.push(error instanceof Error ? error.message : String(error));
        });
      }
      while (printed < stats.windows.length) {
        const w = stats.windows[printed];
        if (!w || w.endMs > now || w.endMs === durationMs) break;
        log(windowLine(w, samples));
        printed += 1;
      }
      if (now >= durationMs) {
        clearInterval(timer);
        resolve();
      }
    }, 250);
  });
  // The "end" reading: the server as the load leaves it, before anything is closed.
  const endScrape = state.died ? null : await take().catch(() => null);
  const runCpu = process.cpuUsage(loadCpu);
  await load.stop();
  for (const w of stats.windows.slice(printed)) log(windowLine(w, samples));

  let shutdownMs = 0;
  if (!state.died) {
    const t0 = performance.now();
    await server.stop(15_000);
    shutdownMs = performance.now() - t0;
  }
  const exitCode = await server.waitExit();
  const errors = await serverErrors(logFile);

  // --- Report ---
  // A slow scrape may have finished after a later one.
  samples.sort((a, b) => a.atMs - b.atMs);
  await writeSamples(path.join(workDir, "samples.csv"), samples);
  const start = samples[0];
  const last = samples.at(-1);
  // RSS rises and falls with V8's garbage collection cycles (minutes apart under this load): each
  // reading after the start is the median of the samples of a span of 20% of the run (30 s to
  // 2 min), so one sample taken at a high or a low cannot decide the verdict.
  const spanMs = Math.min(120_000, Math.max(30_000, durationMs * 0.2));
  const warm = reading(samples, warmupMs, warmupMs + spanMs);
  const end = last ? reading(samples, last.atMs - spanMs, last.atMs) : null;
  const failures: string[] = [];
  log("");
  log("Memory of the server process (from its /metrics):");
  const memRow = (label: string, r: Reading | null) => [
    label,
    r ? r.at : "-",
    mb(r?.rssBytes ?? null),
    mb(r?.heapUsedBytes ?? null),
    r?.activeHandles === null || r?.activeHandles === undefined ? "?" : r.activeHandles.toFixed(0),
  ];
  log(
    table([
      ["", "at", "RSS", "heap used", "active handles"],
      memRow("start", start ? reading([start], start.atMs, start.atMs) : null),
      memRow("after warm-up", warm),
      memRow("end", end),
    ])
      .split("\n")
      .map((l) => `  ${l}`)
      .join("\n"),
  );
  log(
    `  (after warm-up and end: medians of the samples taken every ${SAMPLE_EVERY_MS / 1000} s ` +
      `in the ${spanMs / 1000} s from the warm-up and in the last ${spanMs / 1000} s)`,
  );
  if (warm && end) {
    const growth = ((end.rssBytes - warm.rssBytes) / warm.rssBytes) * 100;
    const after = samples.filter((s) => s.atMs >= warmupMs);
    const rss = after.map((s) => s.rssBytes);
    log(
      `  RSS end vs after warm-up: ${pct(growth)} (limit +${options.rssGrowthPercent}%); every sample after warm-up: ` +
        `min ${mb(Math.min(...rss))}, max ${mb(Math.max(...rss))}, trend ${rssSlopeMbPerMin(after).toFixed(1)} MB/min (${after.length} samples)`,
    );
    if (growth > options.rssGrowthPercent) {
      failures.push(`RSS grew ${pct(growth)} after the warm-up (limit +${options.rssGrowthPercent}%)`);
    }
  } else {
    failures.push("not enough memory samples");
  }
  if (scrapeErrors.length > 0)
    log(`  (${scrapeErrors.length} scrapes of /metrics failed: ${scrapeErrors[0] ?? ""})`);

  log("");
  log(
    `Per ${options.windowSeconds === 60 ? "minute" : `${options.windowSeconds} s`} (client-side latency, every call):`,
  );
  log(
    table([
      [
        "period",
        "calls",
        "calls/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "5xx",
        "unexpected",
        "expected",
        "skipped",
        "events",
        "server CPU",
        "RSS",
        "heap",
      ],
      ...stats.windows.map((w) => {
        const n = w.latency.count;
        const cpu = windowCpu(samples, w);
        const at = sampleAt(samples, w.endMs);
        return [
          `${clock(w.startMs)}-${clock(w.endMs)}`,
          fmtInt(n),
          (n / ((w.endMs - w.startMs) / 1000)).toFixed(1),
          fmtMs(w.latency.percentile(50)),
          fmtMs(w.latency.percentile(99)),
          fmtMs(w.latency.maxMs),
          String(w.server5xx),
          String(w.unexpected),
          String(w.expected),
          String(w.skipped),
          fmtInt(w.sseEvents),
          cpu === null ? "?" : `${cpu.toFixed(0)}%`,
          mb(at?.rssBytes ?? null),
          mb(at?.heapUsedBytes ?? null),
        ];
      }),
    ])
      .split("\n")
      .map((l) => `  ${l}`)
      .join("\n"),
  );

  log("");
  log("Per procedure (whole run):");
  log(
    table([
      ["procedure", "calls", "p50 ms", "p99 ms", "max ms", "expected errors", "unexpected"],
      ...[...stats.ops.entries()]
        .sort((a, b) => b[1].latency.count - a[1].latency.count)
        .map(([op, t]) => [
          op,
          fmtInt(t.latency.count),
          fmtMs(t.latency.percentile(50)),
          fmtMs(t.latency.percentile(99)),
          fmtMs(t.latency.maxMs),
          String(t.expected),
          String(t.unexpected),
        ]),
    ])
      .split("\n")
      .map((l) => `  ${l}`)
      .join("\n"),
  );
  const runSeconds = Math.max(1, (last?.atMs ?? durationMs) / 1000);
  const serverCpu = cpuPercent(start, last);
  log(
    `  CPU over the run: server ${serverCpu === null ? "?" : `${serverCpu.toFixed(0)}%`} of one core, ` +
      `this load generator ${(((runCpu.user + runCpu.system) / 1e6 / runSeconds) * 100).toFixed(0)}%` +
      ` (${os.cpus().length} cores, load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(" ")})`,
  );
  const sse = load.summary();
  log(
    `  markets.onEvent: ${sse.subscriptions} streams, ${sse.opens} connections opened (a quarter reopened every 30 s, resuming from the last event id), ${fmtInt(sse.events)} events received, ${fmtInt(sse.expected)} expected (committed on their market after the stream opened)`,
  );

  log("");
  const server5xxCalls =
    startScrape && endScrape ? endScrape.server5xxCalls - startScrape.server5xxCalls : Number.NaN;
  log(
    `5xx responses: ${stats.server5xx}` +
      (Number.isNaN(server5xxCalls) ? "" : ` (the server's own count of 5xx outcomes: ${server5xxCalls})`),
  );
  if (stats.server5xx > 0) failures.push(`${stats.server5xx} responses with status 5xx`);
  if (server5xxCalls > 0) failures.push(`the server counted ${server5xxCalls} calls with a 5xx outcome`);
  if (stats.unexpected.size === 0) log("Unexpected errors: none");
  else {
    log("Unexpected errors, by procedure and code:");
    for (const [key, tally] of [...stats.unexpected].sort((a, b) => b[1].count - a[1].count)) {
      log(`  ${key}: ${tally.count}   e.g. ${tally.example.replace(/\s+/g, " ")}`);
    }
    const count = [...stats.unexpected.values()].reduce((sum, t) => sum + t.count, 0);
    failures.push(`${count} unexpected errors`);
  }
  log(
    `Expected errors (deliberately bad calls): ${
      [...stats.expected].map(([k, n]) => `${k} ${n}`).join(", ") || "none"
    }`,
  );
  if (stats.skipped > 0) {
    log(
      `Skipped: ${stats.skipped} calls were due while ${options.maxInFlight} were in flight (the server fell behind)`,
    );
  }
  log(
    `Server log: ${errors.count} entries at level error or above${errors.first.length > 0 ? `, first: ${errors.first[0] ?? ""}` : ""}`,
  );
  if (state.died) {
    failures.push(`the server exited during the run (code ${String(exitCode)})`);
    log(`The server exited during the run. Its last output:\n${server.tail(30)}`);
  } else {
    log(`Shutdown (SIGTERM): exit code ${String(exitCode)} after ${(shutdownMs / 1000).toFixed(1)} s`);
    if (exitCode !== 0) failures.push(`the server did not shut down cleanly (exit code ${String(exitCode)})`);
  }

  log("");
  passed = failures.length === 0;
  log(passed ? "PASS" : `FAIL: ${failures.join("; ")}`);
  return passed ? 0 : 1;
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log(`\n${signal}: stopping the server and the databases...`);
    void cleanups.run().finally(() => process.exit(130));
  });
}

try {
  process.exitCode = await main();
} catch (error) {
  process.stderr.write(`\npnpm soak failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await cleanups.run();
}
