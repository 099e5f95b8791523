import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgoraClient } from "@agora/client";
import { DEMO_USERS, keepDevJwtSecret, loadConfig } from "@agora/server/testing";
import { freePort, repoRoot } from "./support/process.js";

// `pnpm dev` as a developer uses it: the root package.json's dev script, run as written, on a
// fresh DATA_DIR. The watcher is pointed at an entry file in a temp folder (.mts: an ES module
// without a package.json around it) that imports a
// marker module (also there) and then the real server/src/main.ts: the atomic save below
// replaces the marker, never a file of the working tree, so a failing run leaves the tree as it
// was and other test files (which start servers from the same sources) see no change.

const DEV_ENTRY = "server/src/main.ts";
const LISTENING = /"msg":"Agora listening/;

let work: string;
let dev: ChildProcess | null = null;
let output = "";

async function waitFor(predicate: () => boolean, what: string, timeoutMs = 150_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (dev?.exitCode !== null) throw new Error(`pnpm dev exited while waiting for ${what}:\n${output}`);
    // The watcher outlives a server that crashed: fail at once rather than at the timeout.
    if (/could not start|triggerUncaughtException/.test(output))
      throw new Error(`the server failed:\n${output}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Whether the server said it listens after printing `marker` (the version of the marker module it loaded). */
const listeningAfter = (marker: string) => {
  const at = output.lastIndexOf(marker);
  return at >= 0 && LISTENING.test(output.slice(at));
};

/** What an editor's atomic save, `sed -i`, `git checkout` and `git stash` do: write aside, rename over. */
async function atomicSave(file: string, text: string): Promise<void> {
  const aside = `${file}.${String(process.pid)}.tmp`;
  await writeFile(aside, text);
  await rename(aside, file);
}

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), "agora-dev-"));
});

afterAll(async () => {
  // A failed run: stop it as Ctrl-C would (the watcher runs in a process group of its own, so
  // a SIGKILL here would leave it and the server behind), then for good.
  if (dev && dev.exitCode === null) {
    const exited = once(dev, "exit");
    dev.kill("SIGTERM");
    const timer = setTimeout(() => dev?.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(timer);
  }
  await rm(work, { recursive: true, force: true });
});

describe("the development JWT secret", () => {
  it("is generated once and kept in DATA_DIR in development only", async () => {
    const dataDir = path.join(work, "secret-only");
    const first = keepDevJwtSecret(loadConfig({ DATA_DIR: dataDir }));
    const second = keepDevJwtSecret(loadConfig({ DATA_DIR: dataDir }));
    expect(first.auth.jwtSecretFile).toBe(path.join(dataDir, "dev-jwt-secret"));
    expect(second.auth.jwtSecret).toBe(first.auth.jwtSecret);
    expect((await readFile(path.join(dataDir, "dev-jwt-secret"), "utf8")).trim()).toBe(first.auth.jwtSecret);

    // Production requires JWT_SECRET and never touches the file; tests and :memory: stay random per run.
    const elsewhere = path.join(work, "never-written");
    const production = keepDevJwtSecret(
      loadConfig({ NODE_ENV: "production", JWT_SECRET: "p".repeat(40), DATA_DIR: elsewhere }),
    );
    expect(production.auth.jwtSecret).toBe("p".repeat(40));
    expect(() => loadConfig({ NODE_ENV: "production", DATA_DIR: elsewhere })).toThrow(/JWT_SECRET: required/);
    const test = keepDevJwtSecret(loadConfig({ NODE_ENV: "test", DATA_DIR: elsewhere }));
    expect(test.auth.jwtSecretFile).toBeNull();
    expect(keepDevJwtSecret(loadConfig({ DATA_DIR: ":memory:" })).auth.jwtSecretFile).toBeNull();
    await expect(stat(elsewhere)).rejects.toThrow(/ENOENT/);
    // A set JWT_SECRET wins in development too.
    expect(
      keepDevJwtSecret(loadConfig({ DATA_DIR: dataDir, JWT_SECRET: "d".repeat(40) })).auth.jwtSecret,
    ).toBe("d".repeat(40));
  });
});

describe("pnpm dev", () => {
  it("restarts on an atomic save, keeps everyone signed in, and has the demo logins working when it says it listens", async () => {
    try {
      await devScenario();
    } catch (error) {
      throw new Error(`${String(error)}\n--- pnpm dev printed:\n${output}`, { cause: error });
    }
  }, 420_000);
});

async function devScenario(): Promise<void> {
  const pkg = JSON.parse(await readFile(path.join(repoRoot, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  const script = pkg.scripts.dev ?? "";
  expect(script).toContain(DEV_ENTRY);

  const marker = path.join(work, "marker.mts");
  await writeFile(marker, 'console.log("dev-marker v1");\n');
  const entry = path.join(work, "entry.mts");
  await writeFile(
    entry,
    `import "./marker.mts";\nimport ${JSON.stringify(path.join(repoRoot, DEV_ENTRY))};\n`,
  );

  const port = await freePort();
  const dataDir = path.join(work, "data");
  dev = spawn("sh", ["-c", script.replace(DEV_ENTRY, entry)], {
    cwd: repoRoot,
    // A fresh DATA_DIR, no JWT_SECRET: a newcomer's first `pnpm dev`.
    env: {
      PATH: `${path.join(repoRoot, "node_modules/.bin")}:${process.env.PATH ?? ""}`,
      HOST: "127.0.0.1",
      PORT: String(port),
      DATA_DIR: dataDir,
      BCRYPT_COST: "4",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  dev.stdout?.on("data", (c: Buffer) => (output += c.toString()));
  dev.stderr?.on("data", (c: Buffer) => (output += c.toString()));
  const url = `http://127.0.0.1:${String(port)}`;

  await waitFor(() => listeningAfter("dev-marker v1"), "the first 'Agora listening' line");
  // The first demo login works the moment the server says it listens.
  const alice = DEMO_USERS.find((u) => u.key === "alice");
  if (!alice) throw new Error("no demo user alice");
  const anonymous = createAgoraClient({ url });
  const session = await anonymous.auth.login.mutate({ email: alice.email, password: alice.password });
  const token = session.tokens.accessToken;
  const signedIn = createAgoraClient({ url, getAccessToken: () => token });
  expect((await signedIn.users.me.query()).email).toBe(alice.email);

  // The secret is kept in DATA_DIR, readable by its owner only.
  const secretFile = path.join(dataDir, "dev-jwt-secret");
  expect((await stat(secretFile)).mode & 0o777).toBe(0o600);
  expect((await readFile(secretFile, "utf8")).trim().length).toBeGreaterThanOrEqual(32);
  expect(output).not.toContain((await readFile(secretFile, "utf8")).trim());

  await atomicSave(marker, 'console.log("dev-marker v2");\n');
  await waitFor(() => listeningAfter("dev-marker v2"), "a restart after the atomic save", 120_000);
  // The same token after the restart: nobody was signed out.
  expect((await signedIn.users.me.query()).email).toBe(alice.email);

  // A second atomic save of the same file restarts it again (the watcher follows the new file).
  await atomicSave(marker, 'console.log("dev-marker v3");\n');
  await waitFor(() => listeningAfter("dev-marker v3"), "a restart after a second atomic save", 120_000);
  expect((await signedIn.users.me.query()).email).toBe(alice.email);

  dev.kill("SIGTERM");
  const [code] = (await once(dev, "exit")) as [number | null];
  expect(code, output).toBe(0);
  expect(output).not.toMatch(/\n\s+at .+:\d+:\d+/);
}
