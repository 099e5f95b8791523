import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { freePort, repoRoot } from "./support/process.js";

/**
 * `pnpm start` listens before its database is open (docs/behaviour.md, "While starting"):
 * liveness answers at once, and a request that needs the database, sent meanwhile, is held
 * until start-up has finished and then served, not refused.
 */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "agora-hold-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it("answers liveness while the database opens, and serves a request sent meanwhile once started", async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${String(port)}`;
  const child = spawn(process.execPath, ["--import", "tsx", "server/src/main.ts"], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? "",
      HOST: "127.0.0.1",
      PORT: String(port),
      // An empty folder: the first start copies and migrates the embedded database and seeds
      // the demo data, the slowest start there is, so the request below surely arrives early.
      DATA_DIR: path.join(dir, "data"),
      NODE_ENV: "development",
      LOG_LEVEL: "info",
      BCRYPT_COST: "4",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (c: Buffer) => {
    output += c.toString();
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      resolve();
    });
  });
  try {
    // The first answer to liveness, polled every 20 ms.
    const deadline = Date.now() + 60_000;
    for (;;) {
      expect(child.exitCode, output).toBeNull();
      const live = await fetch(`${url}/healthz`).then(
        (res) => res.status,
        () => null,
      );
      if (live === 200) break;
      expect(Date.now() < deadline, `no liveness answer in time:\n${output}`).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // Sent the moment liveness answered: the database is still opening (an empty folder: the
    // embedded database is copied, migrated and the job queue prepared, a second or more).
    const list = `${url}/trpc/markets.list?input=${encodeURIComponent(JSON.stringify({ json: {} }))}`;
    const timed = async () => {
      const started = performance.now();
      const res = await fetch(list);
      const body = (await res.json()) as { result?: { data: { json: { items: unknown[] } } } };
      return { status: res.status, body, ms: performance.now() - started };
    };
    const held = await timed();
    expect(held.status, output).toBe(200);
    expect(Array.isArray(held.body.result?.data.json.items)).toBe(true);
    // It waited for start-up (PGlite's open alone takes a second): far longer than the same
    // request once started. A server that listened only when ready would have answered it
    // about as fast as the later one (a first, cold call: 50 to 200 ms here).
    const after = await timed();
    expect(after.status).toBe(200);
    expect(held.ms, `held ${held.ms.toFixed(0)} ms, then ${after.ms.toFixed(0)} ms`).toBeGreaterThan(
      Math.max(500, 5 * after.ms),
    );
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  } finally {
    if (child.exitCode === null) child.kill("SIGTERM");
    await exited;
  }
}, 120_000);
