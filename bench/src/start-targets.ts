import { mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { timeStart } from "./embedded.js";
import { median } from "./procs.js";
import type { Target } from "./report.js";

/**
 * Issue 29's target 5: the embedded default (PGlite in DATA_DIR, development defaults, demo
 * seeding included), timed from spawning to the first request served from the database
 * (`/readyz` answering 200: see `timeStart`), on an empty
 * DATA_DIR (first start) and again on the same one (restart):
 *   - `pnpm start` (scripts/start.mjs: the sources, transpiled where they changed) ≤ 1.5 s both;
 *   - `node server/dist/main.js` restart ≤ 0.8 s.
 * "Before" is what `pnpm start` ran until then, the same sources through tsx's loader (and pnpm,
 * as `pnpm start` goes through pnpm too), and for the production build BENCH_BASELINE's build
 * when given. The launches alternate within each round so the machine's drift cancels; the
 * targets are judged on the medians.
 */
interface Launch {
  label: string;
  command: string;
  args: string[];
}

interface Times {
  firstStartMs: number;
  restartMs: number;
}

const PNPM_START: Launch = { label: "pnpm start", command: "pnpm", args: ["start"] };
const TSX_START: Launch = {
  label: "before: pnpm exec node --import tsx server/src/main.ts",
  command: "pnpm",
  args: ["exec", "node", "--import", "tsx", "server/src/main.ts"],
};
const distLaunch = (entry: string, label: string): Launch => ({
  label,
  command: process.execPath,
  args: [entry],
});

async function time(workDir: string, env: NodeJS.ProcessEnv, launch: Launch): Promise<Times> {
  const dataDir = await mkdtemp(path.join(workDir, "start-target-"));
  const once = (name: string): Promise<number> =>
    timeStart(workDir, env, { name, command: launch.command, args: launch.args, dataDir });
  try {
    const firstStartMs = await once("start-target-first");
    const restartMs = await once("start-target-restart");
    return { firstStartMs, restartMs };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const list = (values: readonly number[]) => values.map((v) => (v / 1000).toFixed(2)).join(", ");

export interface StartTargets {
  targets: Target[];
  /** One line per launch per round, as measured. */
  lines: string[];
}

export async function measureStartTargets(
  workDir: string,
  baseEnv: NodeJS.ProcessEnv,
  rounds: number,
  /** BENCH_BASELINE's build entry (its server/dist/main.js), for the production build's before. */
  baselineEntry: string | null,
  log: (line: string) => void = () => undefined,
): Promise<StartTargets> {
  const env: NodeJS.ProcessEnv = { ...baseEnv, NODE_ENV: "development" };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  const launches = [
    PNPM_START,
    TSX_START,
    distLaunch("server/dist/main.js", "node server/dist/main.js"),
    ...(baselineEntry ? [distLaunch(baselineEntry, `before: node ${baselineEntry}`)] : []),
  ];
  const measured = new Map<string, Times[]>(launches.map((l) => [l.label, []]));
  const lines: string[] = [];
  for (let round = 1; round <= rounds; round += 1) {
    // Alternate the order too: whichever runs first in a round does not always meet the same load.
    const order = round % 2 === 1 ? launches : [...launches].reverse();
    for (const launch of order) {
      const times = await time(workDir, env, launch);
      measured.get(launch.label)?.push(times);
      const line = `[round ${String(round)}/${String(rounds)}] ${launch.label}: first start ${seconds(times.firstStartMs)}, restart ${seconds(times.restartMs)}`;
      lines.push(line);
      log(`  ${line}`);
    }
  }

  const of = (launch: Launch, pick: (t: Times) => number) => (measured.get(launch.label) ?? []).map(pick);
  const target = (
    name: string,
    launch: Launch,
    before: Launch | null,
    pick: (t: Times) => number,
    goalMs: number,
  ): Target => {
    const after = of(launch, pick);
    const was = before ? of(before, pick) : [];
    const value = median(after);
    return {
      name,
      measured:
        `${seconds(value)} (${list(after)})` +
        (was.length > 0 ? `; before ${seconds(median(was))} (${list(was)})` : ""),
      goal: `<= ${seconds(goalMs)}`,
      pass: Number.isFinite(value) ? value <= goalMs : false,
    };
  };
  const dist = launches[2] ?? PNPM_START;
  const baseline = launches[3] ?? null;
  return {
    lines,
    targets: [
      target(
        "embedded default: `pnpm start` first start",
        PNPM_START,
        TSX_START,
        (t) => t.firstStartMs,
        1500,
      ),
      target("embedded default: `pnpm start` restart", PNPM_START, TSX_START, (t) => t.restartMs, 1500),
      target("embedded default: node server/dist/main.js restart", dist, baseline, (t) => t.restartMs, 800),
    ],
  };
}
