import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "./support/database.js";
import { freePort, repoRoot } from "./support/process.js";

// The README's quick start as a newcomer meets it: `pnpm start`, what it prints, the
// terminal commands, and how it stops: Ctrl-C in a terminal (SIGINT to the whole foreground
// process group) and SIGTERM to pnpm's own pid (what a supervisor sends). Both database modes:
// the commands are the same, on the suite's database.

const postgres = Boolean(process.env.DATABASE_URL);
let work: string;
let db: TestDatabase;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), "agora-quickstart-test-"));
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
  await rm(work, { recursive: true, force: true });
});

/** The environment of a shell: no variables pnpm set for the run of this test suite. */
function shellEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith("npm_") && !name.startsWith("VITEST")) env[name] = value;
  }
  // A Redis run shares the server with other test files: keys of its own.
  if (env.REDIS_URL) env.REDIS_KEY_PREFIX = `agora-quickstart:${randomUUID()}:`;
  return { ...env, LOG_LEVEL: "info", BCRYPT_COST: "4", ...extra };
}

interface Started {
  readonly child: ChildProcess;
  readonly port: number;
  output(): string;
  /** Resolves with pnpm's exit code once every process of its group has exited. */
  gone(): Promise<number | null>;
}

/** `pnpm <script>` in its own process group, as a terminal runs it; waits until it serves. */
async function startPnpm(script: "start" | "dev", env: Record<string, string>): Promise<Started> {
  const port = await freePort();
  const child = spawn("pnpm", [script], {
    cwd: repoRoot,
    env: { ...env, PORT: String(port) },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  child.stdout.on("data", (c: Buffer) => (text += c.toString()));
  child.stderr.on("data", (c: Buffer) => (text += c.toString()));
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  const groupAlive = () => {
    try {
      process.kill(-(child.pid ?? 0), 0);
      return true;
    } catch {
      return false;
    }
  };
  const gone = async () => {
    const [code] = await exited;
    const deadline = Date.now() + 30_000;
    while (groupAlive()) {
      if (Date.now() > deadline) {
        process.kill(-(child.pid ?? 0), "SIGKILL");
        throw new Error(`processes of pnpm ${script} outlived it:\n${text}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return code;
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pnpm ${script} exited during start-up:\n${text}`);
    const up = await fetch(`http://127.0.0.1:${String(port)}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    // Started as a user sees it: the port answers and the line naming the URL is printed (it
    // is written just after the server listens, so it can reach the pipe a moment later).
    if (up && text.includes('"msg":"Agora listening on ')) break;
    if (Date.now() > deadline) {
      process.kill(-(child.pid ?? 0), "SIGKILL");
      throw new Error(`pnpm ${script} did not serve within 120 s:\n${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { child, port, output: () => text, gone };
}

/** The log lines' messages, in order. */
function messages(output: string): string[] {
  return output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => (JSON.parse(line) as { msg: string }).msg);
}

async function portClosed(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${String(port)}/healthz`).then(
    () => false,
    () => true,
  );
}

describe("the README's quick start", () => {
  it("scripts/readme-quickstart.mjs: pnpm start, the terminal block (users.me), Ctrl-C", async () => {
    const child = spawn(process.execPath, ["scripts/readme-quickstart.mjs"], {
      cwd: repoRoot,
      env: shellEnv({ ...db.env, SEED_DEMO: "false" }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let text = "";
    child.stdout.on("data", (c: Buffer) => (text += c.toString()));
    child.stderr.on("data", (c: Buffer) => (text += c.toString()));
    const [code] = (await once(child, "close")) as [number | null];
    expect(text, text).toContain("quick start passed");
    expect(text).toMatch(/users\.me answered: \{"result":\{"data":\{"json":\{"id":"[^"]+","username":"ada"/);
    expect(code, text).toBe(0);
  }, 240_000);

  it("pnpm start says what it does while it starts, then what is bound and a URL to open", async () => {
    const dataDir = path.join(work, "first-start");
    const server = await startPnpm("start", shellEnv(postgres ? db.env : { DATA_DIR: dataDir }));
    try {
      const lines = messages(server.output());
      const port = String(server.port);
      const listening = `Agora listening on 0.0.0.0:${port} (every interface): open http://localhost:${port} (tRPC at /trpc)`;
      const expected = postgres
        ? ["starting Agora", "database schema is up to date", listening]
        : [
            "starting Agora",
            `creating the embedded database in ${dataDir} from the migrated template (a few seconds)`,
            "embedded PostgreSQL (PGlite) started",
            "database schema is up to date",
            listening,
          ];
      expect(lines.filter((m) => expected.includes(m))).toEqual(expected);
      if (!postgres) {
        // It names the embedded database's address (for psql), never its URL's password.
        const started = server
          .output()
          .split("\n")
          .find((line) => line.includes('"msg":"embedded PostgreSQL (PGlite) started"'));
        expect(started).toMatch(/"address":"127\.0\.0\.1:\d+"/);
        expect(started).not.toContain("postgres:postgres");
      }
      // The URL it names works.
      expect((await fetch(`http://localhost:${port}/healthz`)).status).toBe(200);
    } finally {
      process.kill(-(server.child.pid ?? 0), "SIGINT");
      expect(await server.gone()).toBe(0);
    }
  }, 180_000);

  it("SIGTERM to pnpm start's pid (a supervisor) drains the server; pnpm exits 0, nothing is orphaned", async () => {
    const server = await startPnpm(
      "start",
      shellEnv(postgres ? db.env : { DATA_DIR: path.join(work, "sigterm") }),
    );
    server.child.kill("SIGTERM"); // pnpm's own pid only, not its group
    expect(await server.gone(), server.output()).toBe(0);
    expect(await portClosed(server.port)).toBe(true);
    const output = server.output();
    expect(output).not.toContain("ELIFECYCLE");
    expect(messages(output)).toContain("shutdown complete");
  }, 180_000);

  it("Ctrl-C on pnpm dev stops it quietly: the server drains, pnpm exits 0", async () => {
    const server = await startPnpm("dev", shellEnv(postgres ? db.env : { DATA_DIR: path.join(work, "dev") }));
    process.kill(-(server.child.pid ?? 0), "SIGINT");
    expect(await server.gone(), server.output()).toBe(0);
    expect(await portClosed(server.port)).toBe(true);
    const output = server.output();
    expect(output).not.toContain("ELIFECYCLE");
    expect(output).not.toMatch(/Force killing|Killing process/);
    const lines = messages(output);
    expect(lines).toContain("shutting down: draining in-flight requests");
    expect(lines).toContain("shutdown complete");
  }, 180_000);
});
