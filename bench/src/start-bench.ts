// `pnpm --filter @agora/bench start-targets`: issue 29's target 5 alone (start-targets.ts), without
// the load scenarios: BENCH_ROUNDS rounds (default 5), BENCH_BASELINE as in `pnpm bench`.
// Needs the production build (`pnpm --filter @agora/server build`).
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { baseEnv, log, numberEnv } from "./procs.js";
import { renderTargets } from "./report.js";
import { BASELINE } from "./scenarios.js";
import { measureStartTargets } from "./start-targets.js";

const workDir = await mkdtemp(path.join(os.tmpdir(), "agora-start-bench-"));
try {
  const rounds = numberEnv("BENCH_ROUNDS", 5, 1);
  log(`issue 29 target 5: ${String(rounds)} rounds, load average ${(os.loadavg()[0] ?? 0).toFixed(1)}`);
  const { targets } = await measureStartTargets(workDir, baseEnv(), rounds, BASELINE || null, log);
  log(`load average ${(os.loadavg()[0] ?? 0).toFixed(1)}\n${renderTargets(targets)}`);
} finally {
  await rm(workDir, { recursive: true, force: true });
}
