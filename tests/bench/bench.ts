/**
 * Load benchmark: starts the real server in a child process (so the load generator does not
 * share its event loop), seeds data through the SDK, then drives each scenario with
 * autocannon and prints throughput and latency percentiles.
 *
 *   pnpm bench                      # embedded PGlite
 *   DATABASE_URL=... REDIS_URL=... pnpm bench
 *   BENCH_SECONDS=5 BENCH_CONNECTIONS=16 pnpm bench
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { createAgoraClient } from "@agora/client";

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const root = path.resolve(import.meta.dirname, "../..");

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => {
        resolve(typeof address === "object" && address ? address.port : 0);
      });
    });
  });
}

async function waitForHealth(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`server did not become healthy within ${timeoutMs} ms`);
}

interface Scenario {
  name: string;
  method?: "GET" | "POST";
  path: string;
  headers?: Record<string, string>;
  body?: string;
  seconds?: number;
}

const enc = (v: unknown) => encodeURIComponent(JSON.stringify({ json: v }));

async function main(): Promise<void> {
  const port = await freePort();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "agora-bench-"));
  const url = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
    DATA_DIR: dataDir,
    JWT_SECRET: "bench-secret-bench-secret-bench-secret-123",
    RATE_LIMIT_ENABLED: "false",
    BCRYPT_COST: process.env.BCRYPT_COST ?? "12",
  };
  process.stdout.write(
    `Starting server (${process.env.DATABASE_URL ? "PostgreSQL" : "embedded PGlite"}, ${process.env.REDIS_URL ? "Redis" : "in-process limiter"}, bcrypt cost ${env.BCRYPT_COST ?? ""})...\n`,
  );
  const child = spawn(path.join(root, "node_modules/.bin/tsx"), ["server/src/main.ts"], {
    cwd: root,
    env,
    stdio: ["ignore", "ignore", "inherit"],
  });
  try {
    await waitForHealth(url, 120_000);
    const api = createAgoraClient({ url });
    const tag = Date.now().toString(36);
    const password = "BenchPassw0rd";
    const { user, tokens } = await api.auth.register.mutate({
      email: `bench_${tag}@example.com`,
      username: `bench_${tag}`,
      password,
    });
    const auth = { authorization: `Bearer ${tokens.accessToken}` };
    const seller = createAgoraClient({ url, getAccessToken: () => tokens.accessToken });
    process.stdout.write("Seeding 200 markets with one product each...\n");
    let market = "";
    for (let i = 0; i < 200; i += 1) {
      const m = await seller.markets.create.mutate({ name: `Market ${i}`, status: "ACTIVE" });
      await seller.products.create.mutate({
        marketId: m.id,
        name: `Item ${i}`,
        priceCents: 100 + i,
        stock: 1_000_000,
      });
      market = m.id;
    }
    const product = (await seller.products.list.query({ marketId: market })).items[0]?.id ?? "";

    const scenarios: Scenario[] = [
      { name: "health.live (framework floor)", path: "/trpc/health.live" },
      { name: "users.byId (one indexed read)", path: `/trpc/users.byId?input=${enc({ id: user.id })}` },
      { name: "users.me (JWT + session check + read)", path: "/trpc/users.me", headers: auth },
      {
        name: "batch of 10 users.byId",
        path: `/trpc/${Array.from({ length: 10 }, () => "users.byId").join(",")}?batch=1&input=${encodeURIComponent(
          JSON.stringify(
            Object.fromEntries(Array.from({ length: 10 }, (_, i) => [i, { json: { id: user.id } }])),
          ),
        )}`,
      },
      {
        name: "markets.list (20 of 200, owner join, total)",
        path: `/trpc/markets.list?input=${enc({ limit: 20 })}`,
      },
      {
        name: "orders.create (1 line, transaction)",
        method: "POST",
        path: "/trpc/orders.create",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ json: { marketId: market, items: [{ productId: product, quantity: 1 }] } }),
      },
      {
        name: `auth.login (bcrypt cost ${env.BCRYPT_COST ?? ""} in workers)`,
        method: "POST",
        path: "/trpc/auth.login",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ json: { email: `bench_${tag}@example.com`, password } }),
        seconds: Math.min(seconds, 10),
      },
    ];

    const rows: string[][] = [];
    for (const s of scenarios) {
      process.stdout.write(`  running ${s.name} for ${s.seconds ?? seconds}s...\n`);
      const result = await autocannon({
        url: `${url}${s.path}`,
        method: s.method ?? "GET",
        connections,
        duration: s.seconds ?? seconds,
        ...(s.headers ? { headers: s.headers } : {}),
        ...(s.body ? { body: s.body } : {}),
      });
      rows.push([
        s.name,
        result.requests.average.toFixed(0),
        result.latency.p50.toFixed(1),
        result.latency.p99.toFixed(1),
        String(result.non2xx + result.errors),
      ]);
    }

    const header = ["scenario", "req/s", "p50 ms", "p99 ms", "errors"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
    const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
    process.stdout.write(
      `\n${connections} connections, ${seconds}s per scenario, Node ${process.version}, ${os.cpus().length} CPUs\n`,
    );
    process.stdout.write(`${line(header)}\n| ${widths.map((w) => "-".repeat(w)).join(" | ")} |\n`);
    for (const r of rows) process.stdout.write(`${line(r)}\n`);
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
