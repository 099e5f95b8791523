/**
 * `pnpm bench`: Agora side by side with the peers it should beat, on one PostgreSQL with the
 * same seeded data, each server in its own process, loaded by wrk in another, in interleaved
 * rounds so the drift of a shared machine falls on every row alike. See bench/README.md.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { measureEmbeddedStart } from "./embedded.js";
import {
  INSTALL_POSTGRES,
  findPostgresBin,
  migrate,
  openBenchDatabase,
  openJobQueueWatch,
} from "./postgres.js";
import {
  baseEnv,
  benchRoot,
  Cleanups,
  freePort,
  hasCommand,
  log,
  Managed,
  numberEnv,
  repoRoot,
  runOrThrow,
  waitForOk,
} from "./procs.js";
import { openBenchRedis } from "./redis.js";
import {
  buildIssue29Targets,
  buildRows,
  buildTargets,
  eventLoopPerRound,
  labelFor,
  renderHeader,
  renderTable,
  renderTargets,
  type EmbeddedStart,
  type Target,
  type LoginLoadResult,
  type Measurement,
  type Meta,
  type Report,
} from "./report.js";
import {
  BASELINE,
  SCENARIOS,
  SERVERS,
  serverDef,
  trpcPost,
  type Fixtures,
  type Scenario,
  type ServerDef,
  type ServerId,
} from "./scenarios.js";
import { BENCH_PASSWORD, seed } from "./seed.js";
import { measureStartTargets } from "./start-targets.js";
import { renderSvg } from "./svg.js";
import { writeTargets } from "./targets-write.js";
import { INSTALL_WRK, runWrk, writeWrkScript, type HttpRequest } from "./wrk.js";
import { cpuPerRequest, readCpu, type CpuPerRequest } from "./cpu.js";

function listEnv(name: string): Set<string> | null {
  const raw = process.env[name]?.trim();
  return raw ? new Set(raw.split(",").map((s) => s.trim())) : null;
}

const knobs = {
  rounds: numberEnv("BENCH_ROUNDS", 3, 1),
  warmup: numberEnv("BENCH_WARMUP", 2, 0),
  duration: numberEnv("BENCH_DURATION", 4, 1),
  connections: numberEnv("BENCH_CONNECTIONS", 32, 1),
  loginRate: numberEnv("BENCH_LOGIN_RATE", 8, 0.1),
  bcryptCost: numberEnv("BENCH_BCRYPT_COST", 12, 4),
  scenarios: listEnv("BENCH_SCENARIOS"),
  servers: listEnv("BENCH_SERVERS"),
  build: process.env.BENCH_BUILD !== "0",
  embedded: process.env.BENCH_EMBEDDED !== "0",
  keep: process.env.BENCH_KEEP === "1",
};

const JWT_SECRET = "bench-only-secret-0123456789-abcdefghijklmnop";

const cleanups = new Cleanups();

function agoraEnv(databaseUrl: string): NodeJS.ProcessEnv {
  return {
    ...baseEnv(),
    DATABASE_URL: databaseUrl,
    JWT_SECRET,
    RATE_LIMIT_ENABLED: "false",
    MIGRATE_ON_START: "false",
    BCRYPT_COST: String(knobs.bcryptCost),
    // Tokens taken before the rounds must outlive the run; this changes no request path.
    ACCESS_TOKEN_TTL_SECONDS: "7200",
    SHUTDOWN_TIMEOUT_MS: "2000",
  };
}

/** Which of the variables the variants set does this build of the server read at all? */
async function unsupportedEnv(): Promise<Map<ServerId, string>> {
  const dist = path.join(repoRoot, "server", "dist");
  const files = (await readdir(dist, { recursive: true })).filter(
    (f) => f.endsWith(".js") && !f.startsWith(`generated${path.sep}`),
  );
  const text = (await Promise.all(files.map((f) => readFile(path.join(dist, f), "utf8")))).join("\n");
  const out = new Map<ServerId, string>();
  for (const s of SERVERS) {
    for (const name of Object.keys(s.agoraEnv ?? {})) {
      if (name !== "CACHE_ENABLED" || s.agoraEnv?.[name] === "true") {
        if (!text.includes(name)) out.set(s.id, name);
      }
    }
  }
  return out;
}

interface Running {
  def: ServerDef;
  url: string;
  proc: Managed;
}

async function startServer(
  def: ServerDef,
  databaseUrl: string,
  redisUrl: string | null,
  workDir: string,
  stamp: string,
): Promise<Running> {
  const port = await freePort();
  const logFile = path.join(workDir, `${def.id}.log`);
  let proc: Managed;
  if (def.kind === "agora") {
    const env: NodeJS.ProcessEnv = { ...agoraEnv(databaseUrl), ...def.agoraEnv, PORT: String(port) };
    if (def.needsRedis && redisUrl) {
      env.REDIS_URL = redisUrl;
      env.REDIS_KEY_PREFIX = `agora-bench-${stamp}-${def.id}:`;
    }
    proc = Managed.start(def.label, process.execPath, [def.agoraEntry ?? "server/dist/main.js"], {
      env,
      logFile,
    });
  } else {
    const entry = path.join(benchRoot, "src", "peers", def.peerEntry ?? "");
    proc = Managed.start(def.label, process.execPath, ["--import", import.meta.resolve("tsx/esm"), entry], {
      env: { ...baseEnv(), DATABASE_URL: databaseUrl, PORT: String(port) },
      logFile,
    });
  }
  cleanups.add(() => proc.stop());
  const url = `http://127.0.0.1:${port}`;
  await waitForOk(`${url}${def.readyPath}`, proc, 60_000);
  return { def, url, proc };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

async function send(url: string, r: HttpRequest): Promise<{ status: number; body: string }> {
  const res = await fetch(`${url}${r.path}`, {
    method: r.method,
    ...(r.headers ? { headers: r.headers } : {}),
    ...(r.body !== undefined ? { body: r.body } : {}),
  });
  return { status: res.status, body: await res.text() };
}

/** Logs a buyer in once, as the SDK would, and returns the access token. */
async function login(url: string, email: string): Promise<string> {
  const res = await send(url, trpcPost("auth.login", { email, password: BENCH_PASSWORD }));
  const parsed: unknown = JSON.parse(res.body);
  const data =
    isRecord(parsed) && isRecord(parsed.result) && isRecord(parsed.result.data) ? parsed.result.data : null;
  const json = data && isRecord(data.json) ? data.json : null;
  const tokens = json && isRecord(json.tokens) ? json.tokens : null;
  if (res.status !== 200 || !tokens || typeof tokens.accessToken !== "string") {
    throw new Error(`auth.login for ${email} failed: HTTP ${res.status} ${res.body.slice(0, 300)}`);
  }
  return tokens.accessToken;
}

/** The login load of the event-loop test, in its own process; `during` runs while it is on. */
async function withLoginLoad<T>(
  url: string,
  email: string,
  during: () => Promise<T>,
): Promise<{ value: T; logins: LoginLoadResult }> {
  const child = spawn(
    process.execPath,
    ["--import", import.meta.resolve("tsx/esm"), path.join(benchRoot, "src", "login-load.ts")],
    {
      env: {
        ...baseEnv(),
        LOGIN_URL: url,
        LOGIN_EMAIL: email,
        LOGIN_PASSWORD: BENCH_PASSWORD,
        LOGIN_RATE: String(knobs.loginRate),
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let out = "";
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes("LOGIN_LOAD_READY")) resolve();
    });
    child.once("exit", (code) => {
      reject(new Error(`the login load process exited (${String(code)}): ${out}`));
    });
  });
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      resolve();
    });
  });
  cleanups.add(async () => {
    child.kill("SIGKILL");
    await exited;
  });
  await ready;
  const value = await during();
  child.kill("SIGTERM");
  await exited;
  const line = out.split("\n").find((l) => l.startsWith("LOGIN_LOAD_RESULT "));
  if (!line) throw new Error(`the login load process printed no result: ${out}`);
  return { value, logins: JSON.parse(line.slice("LOGIN_LOAD_RESULT ".length)) as LoginLoadResult };
}

const fmt = (v: number) => Math.round(v).toLocaleString("en-US");

async function main(): Promise<void> {
  const startedAt = performance.now();
  const loadAtStart = os.loadavg()[0] ?? 0;
  if (!(await hasCommand("wrk"))) throw new Error(INSTALL_WRK);
  if (!process.env.DATABASE_URL && !(await findPostgresBin())) throw new Error(INSTALL_POSTGRES);

  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-");
  const workDir = await mkdtemp(path.join(os.tmpdir(), "agora-bench-"));
  let failed = false;
  cleanups.add(async () => {
    if (knobs.keep || failed) log(`Logs and wrk scripts kept in ${workDir}`);
    else await rm(workDir, { recursive: true, force: true });
  });
  const scenarios = SCENARIOS.filter((s) => !knobs.scenarios || knobs.scenarios.has(s.id));
  const wanted = (id: ServerId) => !knobs.servers || knobs.servers.has(id);

  try {
    log("Agora side-by-side benchmark");
    if (knobs.build) {
      log("  building the server: pnpm --filter @agora/server build");
      await runOrThrow("pnpm", ["--filter", "@agora/server", "build"]);
    }
    const unsupported = await unsupportedEnv();
    const labelOf = (id: ServerId) => labelFor(id, unsupported);

    const db = await openBenchDatabase();
    cleanups.add(() => db.close());
    log(`  PostgreSQL ${db.version} (${db.source}): migrating with prisma migrate deploy`);
    await migrate(db.url, repoRoot);
    const seeded = await seed(db.url, knobs.bcryptCost);
    log(
      `  seeded ${seeded.counts.users} users, ${seeded.counts.markets} markets, ${seeded.counts.products} products`,
    );

    const redis = await openBenchRedis(workDir);
    if (redis) cleanups.add(() => redis.close());
    const skipped = new Map<ServerId, string>();
    for (const s of SERVERS) {
      if (s.needsRedis && !redis) skipped.set(s.id, "no Redis (set REDIS_URL or install redis-server)");
    }
    if (!redis)
      log(
        "  note: no Redis (REDIS_URL unset, no redis-server): the agora+cache (Redis) and x2 rows are skipped",
      );

    const needed = SERVERS.filter(
      (s) => wanted(s.id) && !skipped.has(s.id) && scenarios.some((sc) => sc.servers.includes(s.id)),
    );
    // users.me and orders.create need tokens, and the login load needs a server: plain agora.
    if (!needed.some((s) => s.id === "agora")) needed.unshift(SERVERS[0] as ServerDef);
    log(`  starting ${needed.map((s) => s.label).join(", ")}`);
    const running = new Map<ServerId, Running>();
    for (const r of await Promise.all(
      needed.map((def) => startServer(def, db.url, redis?.url ?? null, workDir, stamp)),
    )) {
      running.set(r.def.id, r);
    }
    const agora = running.get("agora");
    if (!agora) throw new Error("unreachable: agora is always started");

    // The hot-market buyers start with the buyers: one login each.
    const hotBuyerTokens: string[] = [];
    for (const b of seeded.hotBuyers) hotBuyerTokens.push(await login(agora.url, b.email));
    const buyerTokens = hotBuyerTokens.slice(0, seeded.buyers.length);
    const fx: Fixtures = { seed: seeded, buyerTokens, hotBuyerTokens };

    // Every server x scenario gets its script, and one request first to prove it answers 2xx:
    // a benchmark of error responses would be fast and worthless.
    const plan: { scenario: Scenario; server: Running; script: string }[] = [];
    for (const scenario of scenarios) {
      for (const id of scenario.servers) {
        const server = running.get(id);
        if (!server || !wanted(id)) continue;
        const requests = scenario.requests(server.def, fx);
        const first = requests[0];
        if (!first) continue;
        const probe = await send(server.url, first);
        if (probe.status < 200 || probe.status >= 300) {
          throw new Error(
            `${scenario.id} on ${server.def.label}: ${first.method} ${first.path} answered ${probe.status}: ${probe.body.slice(0, 300)}`,
          );
        }
        plan.push({
          scenario,
          server,
          script: await writeWrkScript(workDir, `${scenario.id}-${id}`, requests),
        });
      }
    }

    const perMeasurement = knobs.warmup + knobs.duration + 0.5;
    log(
      `  ${plan.length} measurements per round x ${knobs.rounds} rounds, ${knobs.warmup} s warm-up + ${knobs.duration} s each: about ${Math.ceil((plan.length * knobs.rounds * perMeasurement) / 60)} min`,
    );

    // Within a scenario the servers take turns going first: in a fixed order the server
    // measured second had an edge (10-20% on markets.byId, whichever build it was), so each
    // round starts one server further along.
    const byScenario = new Map<Scenario, typeof plan>();
    for (const item of plan) {
      const items = byScenario.get(item.scenario);
      if (items) items.push(item);
      else byScenario.set(item.scenario, [item]);
    }
    const roundOrder = (round: number) =>
      [...byScenario.values()].flatMap((items) => {
        const k = (round - 1) % items.length;
        return [...items.slice(k), ...items.slice(0, k)];
      });

    const jobQueue = await openJobQueueWatch(db.url);
    cleanups.add(() => jobQueue.close());
    const measurements: Measurement[] = [];
    for (let round = 1; round <= knobs.rounds; round += 1) {
      for (const { scenario, server, script } of roundOrder(round)) {
        const tag = `[round ${round}/${knobs.rounds}] ${scenario.id} x ${labelOf(server.def.id)}`;
        process.stdout.write(`  ${tag.padEnd(58)} `);
        let cpu: CpuPerRequest | undefined;
        const measure = async () => {
          if (knobs.warmup > 0) await runWrk(server.url, script, knobs.warmup, knobs.connections);
          const group = server.proc.pid;
          const before = group === undefined ? null : await readCpu(group);
          const result = await runWrk(server.url, script, knobs.duration, knobs.connections);
          const after = group === undefined ? null : await readCpu(group);
          if (before && after) cpu = cpuPerRequest(before, after, result.requests);
          return result;
        };
        let m: Measurement;
        if (scenario.withLogins) {
          const { value, logins } = await withLoginLoad(server.url, seeded.loginUser.email, measure);
          m = { round, scenario: scenario.id, server: server.def.id, result: value, logins };
          if (logins.failed > 0)
            log(`\n  warning: ${logins.failed} logins failed: ${logins.firstError ?? ""}`);
        } else {
          m = { round, scenario: scenario.id, server: server.def.id, result: await measure() };
        }
        if (cpu) m.cpu = cpu;
        measurements.push(m);
        const r = m.result;
        const bad = r.errors + r.non2xx > 0 ? `  (${r.errors} socket errors, ${r.non2xx} non-2xx)` : "";
        const logins = m.logins ? `  logins ${m.logins.okPerSec.toFixed(1)}/s` : "";
        const cpuNote = cpu
          ? `  CPU/req ${cpu.serverUs.toFixed(0)} us${cpu.databaseUs === null ? "" : ` (PostgreSQL ${cpu.databaseUs.toFixed(0)} us)`}`
          : "";
        log(
          `${fmt(r.reqPerSec).padStart(7)} req/s  p50 ${r.p50Ms.toFixed(1).padStart(6)} ms  p99 ${r.p99Ms.toFixed(1).padStart(6)} ms${cpuNote}${logins}${bad}`,
        );
        await jobQueue.drained();
      }
    }

    for (const r of running.values()) await r.proc.stop();

    let embeddedStart: EmbeddedStart | null = null;
    let startTargets: Target[] = [];
    if (knobs.embedded) {
      log("  embedded default: first start on an empty DATA_DIR, then a restart (node server/dist/main.js)");
      const env = { ...baseEnv(), JWT_SECRET };
      const describe = (e: EmbeddedStart) =>
        e.firstStartMs !== null && e.restartMs !== null
          ? `first start ${(e.firstStartMs / 1000).toFixed(2)} s, restart ${(e.restartMs / 1000).toFixed(2)} s`
          : `failed: ${e.error ?? ""}`;
      embeddedStart = await measureEmbeddedStart(workDir, env);
      log(`  ${describe(embeddedStart)}`);
      if (BASELINE) {
        // The A/B: the baseline build and this one, alternated so the machine's drift cancels.
        const rounds: NonNullable<EmbeddedStart["ab"]>["rounds"] = [];
        for (let round = 1; round <= knobs.rounds; round += 1) {
          const baseline = await measureEmbeddedStart(workDir, env, { entry: BASELINE, fromSources: false });
          const current = await measureEmbeddedStart(workDir, env, {
            entry: "server/dist/main.js",
            fromSources: false,
          });
          log(`  [round ${String(round)}/${String(knobs.rounds)}] ${BASELINE}: ${describe(baseline)}`);
          log(`  [round ${String(round)}/${String(knobs.rounds)}] this build: ${describe(current)}`);
          rounds.push({ baseline, current });
        }
        embeddedStart.ab = { baseline: BASELINE, rounds };
      }
      log(
        "  issue 29 target 5: `pnpm start` and the production build's restart, before and after, alternated",
      );
      startTargets = (await measureStartTargets(workDir, env, knobs.rounds, BASELINE || null, log)).targets;
    }

    const notes: string[] = [];
    for (const [id, name] of unsupported) {
      if (!running.has(id)) continue;
      notes.push(
        `† ${serverDef(id).label}: this build of the server does not read ${name} yet, so the row runs the same configuration as agora`,
      );
    }
    for (const [id, reason] of skipped) notes.push(`${serverDef(id).label} skipped: ${reason}`);
    notes.push(
      `Agora: node server/dist/main.js, NODE_ENV=production, default LOG_LEVEL (info, to a file), rate limiting off; agora+cache adds CACHE_ENABLED=true (in-process cache), agora+cache (Redis) adds CACHE_ENABLED=true and REDIS_URL, agora+cache (Redis) x2 workers adds WEB_CONCURRENCY=2 to that`,
    );
    notes.push(
      "ten reads: ms of server capacity per ten users.byId reads, from the req/s of one batch of ten vs of single calls",
    );

    const cpu = os.cpus();
    const meta: Meta = {
      date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
      node: process.version,
      cpus: cpu.length,
      cpuModel: cpu[0]?.model.trim() ?? "unknown CPU",
      rounds: knobs.rounds,
      warmupSeconds: knobs.warmup,
      durationSeconds: knobs.duration,
      connections: knobs.connections,
      loginRate: knobs.loginRate,
      bcryptCost: knobs.bcryptCost,
      postgres: `${db.version} (${db.source})`,
      redis: redis ? redis.source : "none",
      wrk: `wrk -t1 -c${knobs.connections} --latency`,
      notes,
      loadAverage: [loadAtStart, os.loadavg()[0] ?? 0],
    };
    const rows = buildRows(measurements, skipped, labelOf);
    const eventLoop = eventLoopPerRound(measurements);
    const report: Report = {
      meta,
      rows,
      targets: buildTargets(rows, eventLoop, embeddedStart, measurements),
      targets29: [
        ...buildIssue29Targets(rows, measurements),
        ...startTargets,
        ...writeTargets(rows, measurements),
      ],
      embeddedStart,
      eventLoop,
      measurements,
    };
    meta.totalSeconds = Math.round((performance.now() - startedAt) / 1000);

    const text = [
      "",
      renderHeader(meta),
      "",
      renderTable(report),
      "",
      "Targets (issue 9):",
      renderTargets(report.targets),
      "",
      "Targets (issue 29; with BENCH_BASELINE each shows the baseline build's figure from the same rounds):",
      renderTargets(report.targets29),
      "",
    ].join("\n");
    log(text);

    const results = path.join(benchRoot, "results");
    await mkdir(path.join(results, "history"), { recursive: true });
    const json = `${JSON.stringify(report, null, 2)}\n`;
    const svg = renderSvg(report);
    const md = `${renderHeader(meta)}\n\n${renderTable(report)}\n\nTargets (issue 9):\n\n\`\`\`\n${renderTargets(report.targets)}\n\`\`\`\n\nTargets (issue 29):\n\n\`\`\`\n${renderTargets(report.targets29)}\n\`\`\`\n`;
    await writeFile(path.join(results, "latest.json"), json);
    await writeFile(path.join(results, "latest.svg"), svg);
    await writeFile(path.join(results, "latest.md"), md);
    await writeFile(path.join(results, "history", `${stamp}.json`), json);
    await writeFile(path.join(results, "history", `${stamp}.svg`), svg);
    log(`Wrote bench/results/latest.{json,svg,md} (and history/${stamp}.*) in ${meta.totalSeconds} s total.`);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    await cleanups.run();
  }
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log(`\n${signal}: stopping servers and the database...`);
    void cleanups.run().finally(() => process.exit(130));
  });
}

try {
  await main();
} catch (error) {
  process.stderr.write(`\npnpm bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
