/**
 * Issue 29, target 7 (the write path), as PASS/FAIL lines after the other targets:
 * - on ONE hot market, Agora's orders.create >= 0.5x the ceiling (node:http + pg, one call);
 * - on four markets, >= 5x today's figure: the baseline build's in the same run
 *   (BENCH_BASELINE), else the 62 req/s the issue measured.
 * With BENCH_BASELINE each line also shows the baseline build's figure.
 */
import { fmtInt, perRoundRatios, type Measurement, type Row, type Target } from "./report.js";
import type { ScenarioId, ServerId } from "./scenarios.js";

/** orders.create on four markets before the rewrite, as issue 29 measured it (req/s, p99 ms). */
const ISSUE_FOUR_MARKETS = { reqPerSec: 62, p99Ms: 1100 };

const find = (rows: readonly Row[], scenario: ScenarioId, server: ServerId): Row | undefined =>
  rows.find((r) => r.scenario === scenario && r.server === server && !r.derived && !r.skipped);

const figure = (row: Row) => `${fmtInt(row.reqPerSec)} req/s, p99 ${fmtInt(row.p99Ms)} ms`;

function perRound(measurements: readonly Measurement[], num: Row, den: Row): string {
  const ratios = perRoundRatios(measurements, num, den);
  return ratios.length > 1 ? ` (per round ${ratios.map((r) => r.toFixed(2)).join(", ")})` : "";
}

export function writeTargets(rows: readonly Row[], measurements: readonly Measurement[]): Target[] {
  const targets: Target[] = [];

  const hot = "orders.create hot market";
  const agora = find(rows, hot, "agora");
  const ceiling = find(rows, hot, "node-pg-orders");
  const baseline = find(rows, hot, "agora-baseline");
  if (agora && ceiling) {
    const ratio = agora.reqPerSec / ceiling.reqPerSec;
    const before = baseline
      ? `; baseline build ${figure(baseline)} = ${(baseline.reqPerSec / ceiling.reqPerSec).toFixed(2)}x`
      : "";
    targets.push({
      name: "orders.create on one hot market vs node:http + pg (one call)",
      measured: `${figure(agora)} vs ${figure(ceiling)} = ${ratio.toFixed(2)}x${perRound(measurements, agora, ceiling)}${before}`,
      goal: ">= 0.5x the ceiling",
      pass: ratio >= 0.5,
    });
  } else {
    targets.push({
      name: "orders.create on one hot market vs node:http + pg (one call)",
      measured: "not measured",
      goal: ">= 0.5x the ceiling",
      pass: null,
    });
  }

  const four = find(rows, "orders.create", "agora");
  const today = find(rows, "orders.create", "agora-baseline");
  if (four) {
    const base = today ?? ISSUE_FOUR_MARKETS;
    const ratio = four.reqPerSec / base.reqPerSec;
    targets.push({
      name: "orders.create on four markets vs today's",
      measured: today
        ? `${figure(four)} vs baseline build ${figure(today)} = ${ratio.toFixed(2)}x${perRound(measurements, four, today)}`
        : `${figure(four)} vs ${fmtInt(base.reqPerSec)} req/s, p99 ${fmtInt(base.p99Ms)} ms (issue 29's figure: set BENCH_BASELINE to measure it) = ${ratio.toFixed(2)}x`,
      goal: ">= 5x today's",
      pass: ratio >= 5,
    });
  } else {
    targets.push({
      name: "orders.create on four markets vs today's",
      measured: "not measured",
      goal: ">= 5x today's",
      pass: null,
    });
  }
  return targets;
}
