import os from "node:os";
import { median } from "./procs.js";
import { SCENARIOS, serverDef, type ScenarioId, type ServerId } from "./scenarios.js";
import type { CpuPerRequest } from "./cpu.js";
import type { WrkResult } from "./wrk.js";

export interface LoginLoadResult {
  seconds: number;
  requestedPerSec: number;
  sent: number;
  skipped: number;
  ok: number;
  failed: number;
  okPerSec: number;
  sentPerSec: number;
  p50Ms: number | null;
  firstError: string | null;
}

export interface Measurement {
  round: number;
  scenario: ScenarioId;
  server: ServerId;
  result: WrkResult;
  logins?: LoginLoadResult;
  /** CPU per request in the measured seconds (bench/src/cpu.ts); absent off Linux. */
  cpu?: CpuPerRequest;
}

export interface Row {
  scenario: ScenarioId;
  server: ServerId;
  label: string;
  rounds: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Median CPU microseconds per request: the server's (all its processes), and PostgreSQL's. */
  cpuUs: number;
  dbCpuUs: number;
  errors: number;
  non2xx: number;
  /** This row's req/s over Agora's (the plain "agora" row) in the same scenario. */
  vsAgora: number | null;
  note?: string;
  derived?: boolean;
  skipped?: string;
}

export interface Target {
  name: string;
  measured: string;
  goal: string;
  pass: boolean | null;
}

export interface EmbeddedStart {
  firstStartMs: number | null;
  restartMs: number | null;
  /** The same first start from the TypeScript sources (what `pnpm start` runs), for information. */
  tsxFirstStartMs?: number | null;
  error?: string;
  /** With BENCH_BASELINE: that build and this one, alternated round after round. */
  ab?: EmbeddedAb;
}

export interface EmbeddedAb {
  baseline: string;
  rounds: { baseline: EmbeddedStart; current: EmbeddedStart }[];
}

export interface Meta {
  date: string;
  node: string;
  cpus: number;
  cpuModel: string;
  rounds: number;
  warmupSeconds: number;
  durationSeconds: number;
  connections: number;
  loginRate: number;
  bcryptCost: number;
  postgres: string;
  redis: string;
  wrk: string;
  notes: string[];
  /** 1-minute load average at the start and the end: how busy the (shared) machine was. */
  loadAverage?: [number, number];
  totalSeconds?: number;
}

export interface Report {
  meta: Meta;
  rows: Row[];
  targets: Target[];
  /** Issue 29's targets: Agora against the machine's limit (bare Fastify, node:http + pg). */
  targets29: Target[];
  embeddedStart: EmbeddedStart | null;
  /** Per round: health.live p99 under logins over the idle p99 of the same round. */
  eventLoop: {
    round: number;
    idleP99Ms: number;
    loadedP99Ms: number;
    ratio: number;
    loginsOkPerSec: number;
  }[];
  measurements: Measurement[];
}

/** FastAPI + SQLAlchemy cannot run here (no PyPI): its figures, as the issue measured them. */
const FASTAPI = {
  "markets.byId": { fastapi: 653, expressPrisma: 871 },
  "markets.list": { fastapi: 305, expressPrisma: 497 },
} as const;

export function buildRows(
  measurements: readonly Measurement[],
  skipped: ReadonlyMap<ServerId, string>,
  labelOf: (id: ServerId) => string,
): Row[] {
  const rows: Row[] = [];
  for (const scenario of SCENARIOS) {
    const scenarioRows: Row[] = [];
    for (const server of scenario.servers) {
      const ms = measurements.filter((m) => m.scenario === scenario.id && m.server === server);
      const reason = skipped.get(server);
      if (ms.length === 0) {
        if (reason)
          scenarioRows.push({
            scenario: scenario.id,
            server,
            label: labelOf(server),
            rounds: 0,
            reqPerSec: Number.NaN,
            p50Ms: Number.NaN,
            p99Ms: Number.NaN,
            cpuUs: Number.NaN,
            dbCpuUs: Number.NaN,
            errors: 0,
            non2xx: 0,
            vsAgora: null,
            skipped: reason,
          });
        continue;
      }
      scenarioRows.push({
        scenario: scenario.id,
        server,
        label: labelOf(server),
        rounds: ms.length,
        reqPerSec: median(ms.map((m) => m.result.reqPerSec)),
        p50Ms: median(ms.map((m) => m.result.p50Ms)),
        p99Ms: median(ms.map((m) => m.result.p99Ms)),
        cpuUs: median(ms.flatMap((m) => (m.cpu ? [m.cpu.serverUs] : []))),
        dbCpuUs: median(ms.flatMap((m) => (m.cpu && m.cpu.databaseUs !== null ? [m.cpu.databaseUs] : []))),
        errors: ms.reduce((n, m) => n + m.result.errors, 0),
        non2xx: ms.reduce((n, m) => n + m.result.non2xx, 0),
        vsAgora: null,
      });
    }
    const agora = scenarioRows.find((r) => r.server === "agora");
    // A ratio to Agora only where there is something beside Agora to compare.
    if (scenario.servers.length > 1) {
      for (const r of scenarioRows) {
        if (agora && !r.skipped && Number.isFinite(agora.reqPerSec))
          r.vsAgora = r.reqPerSec / agora.reqPerSec;
      }
    }
    if (scenario.id === "markets.byId" || scenario.id === "markets.list") {
      const ep = scenarioRows.find((r) => r.server === "express-prisma");
      if (ep && Number.isFinite(ep.reqPerSec)) {
        const ratio = FASTAPI[scenario.id].fastapi / FASTAPI[scenario.id].expressPrisma;
        const reqPerSec = ep.reqPerSec * ratio;
        scenarioRows.push({
          scenario: scenario.id,
          server: "express-prisma",
          label: "FastAPI + SQLAlchemy (derived)",
          rounds: 0,
          reqPerSec,
          p50Ms: Number.NaN,
          p99Ms: Number.NaN,
          cpuUs: Number.NaN,
          dbCpuUs: Number.NaN,
          errors: 0,
          non2xx: 0,
          vsAgora: agora ? reqPerSec / agora.reqPerSec : null,
          derived: true,
          note: `not run: ${FASTAPI[scenario.id].fastapi}/${FASTAPI[scenario.id].expressPrisma} of express+Prisma, the issue's ratio`,
        });
      }
    }
    rows.push(...scenarioRows);
  }
  return rows;
}

const find = (rows: readonly Row[], scenario: ScenarioId, server: ServerId): Row | undefined =>
  rows.find((r) => r.scenario === scenario && r.server === server && !r.derived && !r.skipped);
const derivedRow = (rows: readonly Row[], scenario: ScenarioId): Row | undefined =>
  rows.find((r) => r.scenario === scenario && r.derived);

/** Time per ten reads, in ms of the server's capacity: ten single calls vs one batch of ten. */
export function tenReads(rows: readonly Row[]): { separateMs: number; batchMs: number } | null {
  const single = find(rows, "users.byId", "agora");
  const batch = find(rows, "users.byId x10 batch", "agora");
  if (!single || !batch) return null;
  return { separateMs: (10 * 1000) / single.reqPerSec, batchMs: 1000 / batch.reqPerSec };
}

export function eventLoopPerRound(measurements: readonly Measurement[]): Report["eventLoop"] {
  const out: Report["eventLoop"] = [];
  for (const loaded of measurements.filter((m) => m.scenario === "health.live + logins")) {
    const idle = measurements.find(
      (m) => m.round === loaded.round && m.scenario === "health.live" && m.server === loaded.server,
    );
    if (!idle) continue;
    out.push({
      round: loaded.round,
      idleP99Ms: idle.result.p99Ms,
      loadedP99Ms: loaded.result.p99Ms,
      ratio: loaded.result.p99Ms / idle.result.p99Ms,
      loginsOkPerSec: loaded.logins?.okPerSec ?? Number.NaN,
    });
  }
  return out;
}

const x = (v: number) => `${v.toFixed(2)}x`;
const cpuCount = os.cpus().length;

/**
 * The ratio of two rows' req/s in each round that measured both (one round is one stretch of
 * the machine's load), in round order: shown beside the ratio of the medians, which decides.
 */
export function perRoundRatios(measurements: readonly Measurement[], num: Row, den: Row): number[] {
  const rounds = [...new Set(measurements.map((m) => m.round))].sort((a, b) => a - b);
  const reqPerSec = (row: Row, round: number) =>
    measurements.find((m) => m.round === round && m.scenario === row.scenario && m.server === row.server)
      ?.result.reqPerSec;
  return rounds.flatMap((round) => {
    const a = reqPerSec(num, round);
    const b = reqPerSec(den, round);
    return a !== undefined && b !== undefined && b > 0 ? [a / b] : [];
  });
}

function ratioTarget(
  name: string,
  num: Row | undefined,
  den: Row | undefined,
  min: number,
  what: string,
  measurements: readonly Measurement[],
): Target {
  if (!num || !den) return { name, measured: "not measured", goal: `>= ${min}x ${what}`, pass: null };
  const ratio = num.reqPerSec / den.reqPerSec;
  const rounds = den.derived ? [] : perRoundRatios(measurements, num, den);
  const perRound = rounds.length > 1 ? ` (per round ${rounds.map((r) => r.toFixed(2)).join(", ")})` : "";
  return {
    name,
    measured: `${fmtInt(num.reqPerSec)} vs ${fmtInt(den.reqPerSec)} req/s = ${x(ratio)}${perRound}`,
    goal: `>= ${min}x ${what}`,
    pass: ratio >= min,
  };
}

export function buildTargets(
  rows: readonly Row[],
  eventLoop: Report["eventLoop"],
  embedded: EmbeddedStart | null,
  measurements: readonly Measurement[],
): Target[] {
  const targets: Target[] = [
    ratioTarget(
      "health.live vs bare express",
      find(rows, "health.live", "agora"),
      find(rows, "health.live", "express-bare"),
      0.6,
      "bare express 5",
      measurements,
    ),
    ratioTarget(
      "markets.byId (uncached) vs express+Prisma",
      find(rows, "markets.byId", "agora"),
      find(rows, "markets.byId", "express-prisma"),
      1.2,
      "express 5 + Prisma 6",
      measurements,
    ),
    ratioTarget(
      "markets.list (uncached) vs express+Prisma",
      find(rows, "markets.list", "agora"),
      find(rows, "markets.list", "express-prisma"),
      1.2,
      "express 5 + Prisma 6",
      measurements,
    ),
    ratioTarget(
      "markets.byId (uncached) vs FastAPI (derived)",
      find(rows, "markets.byId", "agora"),
      derivedRow(rows, "markets.byId"),
      2,
      "FastAPI, derived as 653/871 of express+Prisma",
      measurements,
    ),
    ratioTarget(
      "markets.list (uncached) vs FastAPI (derived)",
      find(rows, "markets.list", "agora"),
      derivedRow(rows, "markets.list"),
      2,
      "FastAPI, derived as 305/497 of express+Prisma",
      measurements,
    ),
  ];

  const me = find(rows, "users.me", "agora");
  const byId = find(rows, "users.byId", "agora");
  targets.push(
    me && byId
      ? {
          name: "users.me vs users.byId",
          measured: `${fmtInt(me.reqPerSec)} vs ${fmtInt(byId.reqPerSec)} req/s: users.byId is ${x(byId.reqPerSec / me.reqPerSec)} users.me`,
          goal: "users.byId <= 1.3x users.me",
          pass: byId.reqPerSec / me.reqPerSec <= 1.3,
        }
      : { name: "users.me vs users.byId", measured: "not measured", goal: "<= 1.3x", pass: null },
  );

  const ten = tenReads(rows);
  targets.push(
    ten
      ? {
          name: "ten reads: one batch vs ten requests",
          measured: `${ten.batchMs.toFixed(2)} ms vs ${ten.separateMs.toFixed(2)} ms per ten reads = ${x(ten.separateMs / ten.batchMs)} faster`,
          goal: ">= 4x faster",
          pass: ten.separateMs / ten.batchMs >= 4,
        }
      : { name: "ten reads: one batch vs ten requests", measured: "not measured", goal: ">= 4x", pass: null },
  );

  if (eventLoop.length > 0) {
    const ratio = median(eventLoop.map((e) => e.ratio));
    targets.push({
      name: "health.live p99 under logins vs idle",
      measured: `${median(eventLoop.map((e) => e.loadedP99Ms)).toFixed(1)} ms vs ${median(eventLoop.map((e) => e.idleP99Ms)).toFixed(1)} ms idle = ${x(ratio)} (median of per-round ratios)`,
      goal: "<= 2x idle p99",
      pass: ratio <= 2,
    });
  } else {
    targets.push({
      name: "health.live p99 under logins vs idle",
      measured: "not measured",
      goal: "<= 2x",
      pass: null,
    });
  }

  targets.push(
    ratioTarget(
      "agora+cache markets.byId vs node:http+pg",
      find(rows, "markets.byId", "agora+cache"),
      find(rows, "markets.byId", "node-pg"),
      0.5,
      "node:http + pg",
      measurements,
    ),
    ratioTarget(
      "agora+cache (Redis) markets.byId vs node:http+pg",
      find(rows, "markets.byId", "agora+cache+redis"),
      find(rows, "markets.byId", "node-pg"),
      0.5,
      "node:http + pg",
      measurements,
    ),
  );

  if (embedded) {
    targets.push({
      name: "embedded first start (empty DATA_DIR) to a served request",
      measured:
        embedded.firstStartMs === null
          ? (embedded.error ?? "failed")
          : `${(embedded.firstStartMs / 1000).toFixed(2)} s`,
      goal: "<= 3 s",
      pass: embedded.firstStartMs === null ? false : embedded.firstStartMs <= 3000,
    });
    targets.push({
      name: "embedded restart to a served request",
      measured:
        embedded.restartMs === null
          ? (embedded.error ?? "failed")
          : `${(embedded.restartMs / 1000).toFixed(2)} s`,
      goal: "<= 1 s",
      pass: embedded.restartMs === null ? false : embedded.restartMs <= 1000,
    });
    if (embedded.ab) {
      const { baseline, rounds } = embedded.ab;
      const of = (values: (number | null)[]) =>
        values.every((v): v is number => v !== null) && values.length > 0
          ? `${(median(values) / 1000).toFixed(2)} s (${values.map((v) => (v / 1000).toFixed(2)).join(", ")})`
          : "failed";
      for (const [name, pick] of [
        ["first start", (e: EmbeddedStart) => e.firstStartMs],
        ["restart", (e: EmbeddedStart) => e.restartMs],
      ] as const) {
        targets.push({
          name: `(information) embedded ${name}, ${baseline} vs this build, alternated`,
          measured: `${of(rounds.map((r) => pick(r.baseline)))} vs ${of(rounds.map((r) => pick(r.current)))}`,
          goal: "none",
          pass: null,
        });
      }
    }
    if (typeof embedded.tsxFirstStartMs === "number") {
      targets.push({
        name: "(information) first start from the sources, as `pnpm start` runs it",
        measured: `${(embedded.tsxFirstStartMs / 1000).toFixed(2)} s`,
        goal: "none",
        pass: null,
      });
    }
  }
  return targets;
}

/**
 * With BENCH_BASELINE: what the same line reads for the baseline build, measured in the same
 * rounds (its row in place of this build's), so each target shows its before and after.
 */
function withBaseline(target: Target, before: string | null): Target {
  return before === null ? target : { ...target, measured: `${target.measured}; baseline build: ${before}` };
}

const ratioOf = (num: Row | undefined, den: Row | undefined): string | null =>
  num && den ? `${fmtInt(num.reqPerSec)} req/s = ${x(num.reqPerSec / den.reqPerSec)}` : null;

/**
 * Issue 29 ("close to the machine's limit"): the ceilings are bare Fastify's trivial answer and
 * node:http + pg serving markets.byId with the same named prepared statement. Target 5 (start-up)
 * and 7 (the write path) are measured elsewhere (the embedded start lines above; orders).
 */
export function buildIssue29Targets(rows: readonly Row[], measurements: readonly Measurement[]): Target[] {
  const fastifyHealth = find(rows, "health.live", "fastify-bare");
  const ceiling = find(rows, "markets.byId", "node-pg");
  const cached = find(rows, "markets.byId", "agora+cache");
  const cachedBefore = find(rows, "markets.byId", "agora-baseline+cache");
  const uncached = find(rows, "markets.byId", "agora");
  const uncachedBefore = find(rows, "markets.byId", "agora-baseline");
  const health = find(rows, "health.live", "agora");
  const healthBefore = find(rows, "health.live", "agora-baseline");
  const targets: Target[] = [
    withBaseline(
      ratioTarget(
        "29.1 cached markets.byId vs bare Fastify's GET /health",
        cached,
        fastifyHealth,
        0.5,
        "bare Fastify 5's trivial call",
        measurements,
      ),
      ratioOf(cachedBefore, fastifyHealth),
    ),
    withBaseline(
      ratioTarget(
        "29.1 cached markets.byId vs node:http+pg markets.byId (uncached ceiling)",
        cached,
        ceiling,
        1.5,
        "node:http + pg, named prepared statement",
        measurements,
      ),
      ratioOf(cachedBefore, ceiling),
    ),
    withBaseline(
      ratioTarget(
        "29.2 uncached markets.byId vs node:http+pg",
        uncached,
        ceiling,
        0.75,
        "node:http + pg, named prepared statement",
        measurements,
      ),
      ratioOf(uncachedBefore, ceiling),
    ),
    withBaseline(
      ratioTarget(
        "29.3 health.live (access log on) vs bare Fastify's GET /health",
        health,
        fastifyHealth,
        0.6,
        "bare Fastify 5",
        measurements,
      ),
      ratioOf(healthBefore, fastifyHealth),
    ),
  ];
  const p99 = (row: Row | undefined) =>
    row && ceiling ? `p99 ${fmtMs(row.p99Ms)} ms = ${x(row.p99Ms / ceiling.p99Ms)}` : null;
  targets.push(
    uncached && ceiling
      ? withBaseline(
          {
            name: "29.4 p99 of uncached markets.byId vs node:http+pg's",
            measured: `${fmtMs(uncached.p99Ms)} ms vs ${fmtMs(ceiling.p99Ms)} ms = ${x(uncached.p99Ms / ceiling.p99Ms)}`,
            goal: "<= 2x node:http + pg's p99",
            pass: uncached.p99Ms <= 2 * ceiling.p99Ms,
          },
          p99(uncachedBefore),
        )
      : {
          name: "29.4 p99 of uncached markets.byId vs node:http+pg's",
          measured: "not measured",
          goal: "<= 2x",
          pass: null,
        },
  );
  const one = find(rows, "markets.byId", "agora+cache+redis");
  const two = find(rows, "markets.byId", "agora-x2");
  const x2 = ratioTarget(
    "29.6 cached markets.byId, 2 workers vs 1 (PostgreSQL + Redis)",
    two,
    one,
    1.6,
    "one worker (agora+cache (Redis))",
    measurements,
  );
  if (two && one && x2.pass === false) {
    // On a 2-core machine wrk, PostgreSQL and Redis take the second core from the second worker.
    x2.measured = `${x2.measured}; this machine has ${String(cpuCount)} cores shared by the workers, wrk, PostgreSQL and Redis`;
  }
  targets.push(x2);
  return targets;
}

export function fmtInt(v: number): string {
  return Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "–";
}
const fmtMs = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : "–");

function markdownTable(header: readonly string[], body: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (i >= 2 && i <= 5 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join(" | ")} |`;
  const rule = `| ${widths.map((w, i) => (i >= 2 && i <= 5 ? `${"-".repeat(Math.max(w - 1, 1))}:` : "-".repeat(w))).join(" | ")} |`;
  return [line(header), rule, ...body.map(line)].join("\n");
}

/** The side-by-side table, as Markdown (it reads fine in a terminal and pastes into Markdown; written to bench/results/latest.md). */
export function renderTable(report: Report): string {
  const { rows, meta } = report;
  const body: string[][] = [];
  let last: ScenarioId | null = null;
  for (const r of rows) {
    const first = r.scenario !== last;
    last = r.scenario;
    const scenarioCell = first ? r.scenario : "";
    if (r.skipped) {
      body.push([scenarioCell, r.label, "skipped", "", "", "", "", "", r.skipped]);
      continue;
    }
    let note = r.note ?? "";
    if (r.errors + r.non2xx > 0)
      note = `${note ? `${note}; ` : ""}${r.errors} socket errors, ${r.non2xx} non-2xx`;
    if (r.scenario === "users.byId x10 batch") {
      const ten = tenReads(rows);
      if (ten) note = `one request = ten reads: ${ten.batchMs.toFixed(2)} ms per ten reads`;
    }
    if (r.scenario === "users.byId") {
      const ten = tenReads(rows);
      if (ten) note = `ten requests = ${ten.separateMs.toFixed(2)} ms per ten reads`;
    }
    if (r.scenario === "health.live + logins" && report.eventLoop.length > 0) {
      const ratio = median(report.eventLoop.map((e) => e.ratio));
      const logins = median(report.eventLoop.map((e) => e.loginsOkPerSec));
      note = `p99 ${x(ratio)} idle (same round); ${logins.toFixed(1)} of ${meta.loginRate} logins/s completed`;
    }
    body.push([
      scenarioCell,
      r.label,
      fmtInt(r.reqPerSec),
      fmtMs(r.p50Ms),
      fmtMs(r.p99Ms),
      Number.isFinite(r.cpuUs) ? fmtInt(r.cpuUs) : "",
      Number.isFinite(r.dbCpuUs) ? fmtInt(r.dbCpuUs) : "",
      r.vsAgora === null ? "" : x(r.vsAgora),
      note,
    ]);
  }
  return markdownTable(
    [
      "scenario",
      "server",
      "req/s",
      "p50 ms",
      "p99 ms",
      "CPU µs/req",
      "PostgreSQL CPU µs/req",
      "vs agora",
      "note",
    ],
    body,
  );
}

export function renderTargets(targets: readonly Target[]): string {
  return targets
    .map(
      (t) =>
        `${t.pass === null ? "n/a " : t.pass ? "PASS" : "FAIL"}  ${t.name}: ${t.measured} (target ${t.goal})`,
    )
    .join("\n");
}

export function renderHeader(meta: Meta): string {
  return [
    `${meta.date}: ${meta.cpus} x ${meta.cpuModel}, Node ${meta.node}, PostgreSQL ${meta.postgres}, Redis ${meta.redis}`,
    `${meta.wrk}, ${meta.rounds} interleaved rounds of ${meta.warmupSeconds} s warm-up + ${meta.durationSeconds} s measured; medians`,
    ...(meta.loadAverage
      ? [
          `machine load average (1 min): ${meta.loadAverage[0].toFixed(1)} at the start, ${meta.loadAverage[1].toFixed(1)} at the end`,
        ]
      : []),
    ...meta.notes.map((n) => `note: ${n}`),
  ].join("\n");
}

export function labelFor(id: ServerId, unsupported: ReadonlyMap<ServerId, string>): string {
  const label = serverDef(id).label;
  return unsupported.has(id) ? `${label} †` : label;
}
