// The README's quick start, followed as a newcomer follows it, and timed.
//
//   node scripts/readme-quickstart.mjs --clone <git source> [--branch <name>]
//       a fresh clone in the OS temp dir, then the README's first command as written
//       (`pnpm install && pnpm start`), on the embedded defaults of the clone (./.data)
//   node scripts/readme-quickstart.mjs
//       this checkout, already installed: the start command alone, with DATA_DIR in a temp
//       folder (or the DATA_DIR or DATABASE_URL of the environment, as the tests pass them)
//
// Then, while the server runs, the README's terminal block (register, sign in, users.me) as
// written, with localhost:3000 pointed at the port chosen here; the last answer must be ada's
// account. Finally Ctrl-C, as a terminal sends it (SIGINT to the process group): the server
// must drain and pnpm exit 0 without "ELIFECYCLE", leaving no process behind. Prints what it
// ran and how long each step took; exits non-zero on any failure. --keep keeps the temp dir.
/* global clearTimeout, console, fetch, performance, process, setTimeout */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { fail, freePort, run, StepError } from "./steps.mjs";

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const started = performance.now();
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const log = (message) => console.log(message);

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const cloneSource = option("--clone");
const branch = option("--branch");

/** The README's first command, and its terminal block, from the checkout being followed. */
async function readQuickStart(root) {
  const readme = await readFile(path.join(root, "README.md"), "utf8");
  const section = /^## Quick start\n([\s\S]*?)^## /m.exec(readme)?.[1];
  if (!section) fail("README.md has no '## Quick start' section");
  const first = /```sh\n([^\n]+)\n```/.exec(section)?.[1];
  if (!first) fail("the quick start has no first ```sh command");
  const terminal =
    /<!-- quickstart-terminal:start -->\s*```sh\n([\s\S]*?)```\s*<!-- quickstart-terminal:end -->/.exec(
      section,
    )?.[1];
  if (!terminal) fail("the quick start has no ```sh block between the quickstart-terminal markers");
  return { first, terminal, readme };
}

const work = await mkdtemp(path.join(os.tmpdir(), "agora-quickstart-"));
const times = {};
let server = null;
let output = "";
let ok = false;

/** What a terminal does on Ctrl-C: SIGINT to every process of the foreground group. */
async function interrupt() {
  const child = server;
  if (!child) return null;
  server = null;
  const exited =
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve([child.exitCode, child.signalCode])
      : once(child, "exit");
  const signalGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // the group is gone already
    }
  };
  signalGroup("SIGINT");
  const timer = setTimeout(() => signalGroup("SIGKILL"), 30_000);
  const [code, signal] = await exited;
  // Wait for the whole group (the server closes its database after the port).
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      process.kill(-child.pid, 0);
    } catch {
      break;
    }
    if (Date.now() > deadline) {
      signalGroup("SIGKILL");
      fail("processes of the server were still running 30 s after Ctrl-C");
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  clearTimeout(timer);
  return { code, signal };
}

try {
  let root = here;
  // What pnpm sets for a script run must not leak into the pnpm runs below.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("npm_")));
  const port = await freePort();
  env.PORT = String(port);

  if (cloneSource) {
    root = path.join(work, "agora");
    log(`git clone ${cloneSource}${branch ? ` --branch ${branch}` : ""} ${root}`);
    const t = performance.now();
    await run("git", ["clone", "--quiet", ...(branch ? ["--branch", branch] : []), cloneSource, root], {
      timeoutMs: 0,
    });
    times.clone = performance.now() - t;
    // A newcomer's machine: the embedded defaults.
    delete env.DATABASE_URL;
    delete env.REDIS_URL;
    delete env.DATA_DIR;
  } else if (!env.DATABASE_URL && !env.DATA_DIR) {
    env.DATA_DIR = path.join(work, "data");
  }

  const { first, terminal, readme } = await readQuickStart(root);
  const steps = first.split("&&").map((s) => s.trim());
  if (steps.at(-1) !== "pnpm start")
    fail(`the README's first command should end with "pnpm start": ${first}`);
  if (!cloneSource && steps.length > 1)
    log(`(this checkout is installed: skipping ${steps.slice(0, -1).join(" && ")})`);
  const before = cloneSource ? steps.slice(0, -1) : [];

  for (const step of before) {
    log(`$ ${step}`);
    const t = performance.now();
    // No time limit: an install takes as long as the machine and network need.
    await run("sh", ["-e", "-c", step], { cwd: root, env, timeoutMs: 0 });
    times[step] = performance.now() - t;
  }

  log(`$ pnpm start   (PORT=${String(port)}${env.DATA_DIR ? ` DATA_DIR=${env.DATA_DIR}` : ""})`);
  const t = performance.now();
  server = spawn("pnpm", ["start"], { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const collect = (chunk) => {
    output += chunk.toString();
  };
  server.stdout.on("data", collect);
  server.stderr.on("data", collect);
  const url = `http://127.0.0.1:${String(port)}`;
  // As a newcomer does: wait for the line the README shows, then use the server at once.
  for (;;) {
    if (!server || server.exitCode !== null) fail("the server exited during start-up");
    if (output.includes('"Agora listening')) break;
    if (performance.now() - t > 180_000) fail("no 'Agora listening' line within 180 s");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  times["pnpm start (to 'Agora listening')"] = performance.now() - t;
  const listening = output.split("\n").find((line) => line.includes('"Agora listening'));
  log(`  ${JSON.parse(listening).msg}`);
  if (!(await fetch(`${url}/healthz`)).ok) fail("/healthz does not answer 200 after 'Agora listening'");
  // The README's demo login works from that line on (the first start seeds before announcing).
  const demo = /`(alice@agora\.example)`[\s\S]*?with the password `([^`]+)`/.exec(readme)?.slice(1);
  if (!demo) fail("the README names no demo login (`alice@agora.example` ... with the password `...`)");
  const [email, password] = demo;
  // Seeded on a first start on the embedded database (SEED_DEMO's default), as the README says.
  if (output.includes("demo data seeded")) {
    const answer = await fetch(`${url}/trpc/auth.login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ json: { email, password } }),
    });
    if (answer.status !== 200)
      fail(
        `the README's demo login ${email} answered ${String(answer.status)} right after 'Agora listening'`,
      );
    log(`  demo login ${email}: 200`);
  }

  const commands = terminal.replaceAll("localhost:3000", `localhost:${String(port)}`);
  log("$ the README's terminal block:");
  for (const line of commands.trim().split("\n")) log(`    ${line}`);
  const t2 = performance.now();
  const { stdout } = await run("sh", ["-e", "-c", commands], { cwd: work, env, timeoutMs: 0 });
  times["register, login, users.me"] = performance.now() - t2;
  const last = stdout.trim().split("\n").at(-1) ?? "";
  log(`  users.me answered: ${last}`);
  let me;
  try {
    me = JSON.parse(last).result.data.json;
  } catch {
    fail(`users.me did not answer a result:\n${stdout}`);
  }
  if (me.email !== "ada@example.com") fail(`users.me answered someone else: ${last}`);
  times[cloneSource ? "total: fresh clone to users.me" : "total: start to users.me"] =
    performance.now() - started;

  log("Ctrl-C (SIGINT to the process group)");
  const stopped = await interrupt();
  if (stopped.code !== 0) fail(`pnpm start exited with ${String(stopped.code ?? stopped.signal)} on Ctrl-C`);
  if (output.includes("ELIFECYCLE")) fail("pnpm reported ELIFECYCLE on Ctrl-C");
  if (!output.includes('"msg":"shutdown complete"')) fail("the server did not log 'shutdown complete'");
  log("  pnpm exited 0, the server drained and closed, nothing left running");
  ok = true;
} catch (error) {
  console.error(
    `\nquick start FAILED: ${error instanceof StepError ? error.message : (error?.stack ?? error)}`,
  );
  if (output) console.error(`\nserver output (last lines):\n${output.split("\n").slice(-30).join("\n")}`);
} finally {
  await interrupt().catch((error) => {
    ok = false;
    console.error(error.message);
  });
  if (!args.includes("--keep")) await rm(work, { recursive: true, force: true });
  else log(`(kept ${work})`);
}

log("\ntimings");
for (const [step, ms] of Object.entries(times)) log(`  ${step}: ${seconds(ms)}`);
log(ok ? "quick start passed" : "quick start failed");
process.exitCode = ok ? 0 : 1;
