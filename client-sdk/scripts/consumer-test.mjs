// The consumer test: what a user of the published package gets, checked from the outside.
//
//   1. The README's install step 1 (`pnpm --filter @agora/client pack ...`, whose prepack
//      builds dist/), run as written, and a check of what the tarball holds.
//   2. A fresh, empty project folder in the OS temp dir, outside the workspace, runs the
//      README's install step 2 as written: ESM, the tarball (npm resolves its dependencies and
//      peers from the registry), typescript and @types/node. Its tsconfig.json is the README's.
//   3. `tsc --noEmit` (stricter than the README: noUncheckedIndexedAccess,
//      exactOptionalPropertyTypes) on consumer/good.ts, consumer/bad.ts (every
//      `@ts-expect-error` must be used), the README's examples and consumer/live.ts; the same
//      again as a browser project (DOM lib, bundler resolution, no Node types, no skipLibCheck);
//      the README's own `npx tsc` with its tsconfig.json (no skipLibCheck) on its first call;
//      the README's claim that a CommonJS project fails with TS1309; and the editor's hover
//      docs (scripts/hover-check.mjs): the router's descriptions on procedures and fields.
//   4. bad.ts with its directives removed must fail, each marked line with the TS code its
//      directive names: the expected errors are real, and for the stated reason.
//   5. Starts the real server from the workspace and runs live.ts (compiled by the consumer's
//      tsc) against it: register, login, batched queries, an SSE event, refresh, errors; then
//      the README's first call (`node dist/first-call.js`).
//   6. Prints the tarball size, the type-check time and the newcomer's time from pack to a
//      first typed call (pack + install + `npx tsc` + the call). Exits non-zero on any failure.
//
// Usage: pnpm --filter @agora/client test:consumer   (KEEP_CONSUMER_DIR=1 keeps the temp dir)
/* global console, fetch, performance, process, setTimeout */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { fail, freePort, run, StepError } from "../../scripts/steps.mjs";
import { checkHovers } from "./hover-check.mjs";

const sdkDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const repoRoot = path.resolve(sdkDir, "..");
const started = performance.now();

const log = (message) => console.log(message);
const seconds = (ms) => `${(ms / 1000).toFixed(2)}s`;
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;

const work = await mkdtemp(path.join(os.tmpdir(), "agora-consumer-"));
if (!path.relative(repoRoot, work).startsWith("..")) fail(`temp dir ${work} is inside the workspace`);
const app = path.join(work, "app");
const tsc = (args, opts = {}) =>
  run(process.execPath, [path.join(app, "node_modules/typescript/bin/tsc"), ...args], { cwd: app, ...opts });

let serverProcess = null;
let serverLog = "";
let ok = false;

let serverUrl = null;

async function stopServer() {
  const child = serverProcess;
  if (!child) return;
  serverProcess = null;
  const exited =
    child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : once(child, "exit");
  // pnpm -> tsx -> node run in their own process group (detached): signal the whole group.
  const signalGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // the group is gone already
    }
  };
  signalGroup("SIGTERM");
  await exited;
  // pnpm may exit before the server finishes draining: wait until the port is closed.
  const deadline = Date.now() + 20_000;
  let portOpen = serverUrl !== null;
  while (portOpen && Date.now() < deadline) {
    portOpen = await fetch(`${serverUrl}/healthz`).then(
      () => true,
      () => false,
    );
    if (portOpen) await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (portOpen) {
    signalGroup("SIGKILL");
    fail("the server did not stop within 20s of SIGTERM");
  }
  // The port closes first; the server then stops its job queue and closes the embedded
  // database, still writing in DATA_DIR (under the folder removed next): wait for the whole
  // process group to be gone.
  const groupAlive = () => {
    try {
      process.kill(-child.pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  while (groupAlive()) {
    if (Date.now() > deadline) {
      signalGroup("SIGKILL");
      fail("the server's processes did not exit within 20s of SIGTERM");
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    void stopServer().finally(() => process.exit(130));
  });
}

const summary = {};

try {
  log(`consumer test in ${work}`);

  // The README's install commands: step 1 runs in the repository, step 2 in the new project.
  const readme = await readFile(path.join(sdkDir, "README.md"), "utf8");
  const install = /<!-- install:start -->\s*```sh\n([\s\S]*?)```\s*<!-- install:end -->/.exec(readme)?.[1];
  if (!install) fail("README.md has no ```sh block between the install markers");
  const [, inRepository, inProject] = /^# 1\.[^\n]*\n([\s\S]*?)^# 2\.[^\n]*\n([\s\S]*)$/m.exec(install) ?? [];
  if (!inRepository || !inProject)
    fail(`the README's install block needs "# 1." and "# 2." steps:\n${install}`);
  const packDir = path.join(work, "pack");
  // The README packs to ~/agora-sdk; here, to this run's own folder.
  const documented = (commands) => commands.replaceAll("~/agora-sdk", packDir).trim();
  const shell = (commands, cwd) => run("sh", ["-e", "-c", documented(commands)], { cwd });
  const newcomer = {};

  // 1. Pack.
  log(`\n[1/6] README install step 1: ${documented(inRepository)}`);
  let stepStarted = performance.now();
  await shell(inRepository, repoRoot);
  newcomer.packMs = performance.now() - stepStarted;
  const [tarballName] = (await readdir(packDir)).filter((f) => f.endsWith(".tgz"));
  if (!tarballName) fail("pnpm pack produced no tarball");
  const tarball = path.join(packDir, tarballName);
  summary.tarball = { name: tarballName, bytes: (await stat(tarball)).size };

  const listing = (await run("tar", ["-tzvf", tarball])).stdout.trim().split("\n");
  const files = listing.map((line) => line.split(/\s+/).at(-1)).sort();
  const expected = [
    "package/README.md",
    "package/dist/index.d.ts",
    "package/dist/index.js",
    "package/dist/react.d.ts",
    "package/dist/react.js",
    "package/dist/shared.d.ts",
    "package/dist/shared.js",
    "package/package.json",
  ];
  if (JSON.stringify(files) !== JSON.stringify(expected)) {
    fail(`the tarball should hold exactly ${expected.join(", ")}; it holds:\n${listing.join("\n")}`);
  }
  summary.tarball.unpacked = listing.reduce((sum, line) => sum + Number(line.split(/\s+/)[2] ?? 0), 0);
  log(`  ${tarballName}: ${kb(summary.tarball.bytes)} packed, ${kb(summary.tarball.unpacked)} unpacked`);
  for (const line of listing) log(`    ${line.split(/\s+/).slice(2).join(" ")}`);

  // 2. A fresh project that installs only the tarball, as the README says.
  log("\n[2/6] fresh project outside the workspace, README install step 2:");
  for (const line of documented(inProject).split("\n")) log(`    ${line}`);
  await mkdir(app);
  // Its own .npmrc so no workspace or user setting leaks in; the registry is npm's default.
  await writeFile(
    path.join(app, ".npmrc"),
    "fund=false\naudit=false\nupdate-notifier=false\nloglevel=error\n",
  );
  // No `npm init` here: the README's step 2 must work in an empty folder as written.
  stepStarted = performance.now();
  await shell(inProject, app);
  newcomer.installMs = performance.now() - stepStarted;
  log(`  installed in ${seconds(newcomer.installMs)}`);
  const manifest = JSON.parse(await readFile(path.join(app, "package.json"), "utf8"));
  if (manifest.type !== "module") fail(`the README's steps leave the project without "type": "module"`);
  if (!manifest.dependencies?.["@agora/client"]?.endsWith(".tgz"))
    fail(`@agora/client is not a dependency from the tarball: ${JSON.stringify(manifest.dependencies)}`);
  const installed = JSON.parse(
    await readFile(path.join(app, "node_modules/@agora/client/package.json"), "utf8"),
  );
  if (installed.exports?.["."]?.types !== "./dist/index.d.ts") {
    fail(`the packed package.json must point types at dist/: ${JSON.stringify(installed.exports)}`);
  }
  if (JSON.stringify(installed).includes("workspace:")) fail("the packed package.json has workspace: ranges");
  // Only what a consumer's package manager reads: no scripts, no devDependencies (the private
  // server package among them).
  for (const field of ["scripts", "devDependencies"]) {
    if (field in installed)
      fail(`the packed package.json keeps "${field}": ${JSON.stringify(installed[field])}`);
  }
  for (const pkg of ["@agora/server", "@prisma/client", ".prisma", "zod"]) {
    const present = await stat(path.join(app, "node_modules", pkg)).then(
      () => true,
      () => false,
    );
    if (present) fail(`node_modules/${pkg} was installed: the SDK must not need it`);
  }
  const deps = (await run("npm", ["ls", "--all", "--omit=dev", "--parseable"], { cwd: app })).stdout
    .trim()
    .split("\n")
    .slice(1)
    .map((p) => path.relative(path.join(app, "node_modules"), p));
  log(`  installed packages: ${deps.join(", ")}`);

  // 3. Type-check.
  log("\n[3/6] tsc --noEmit (strict)");
  for (const file of ["good.ts", "bad.ts", "live.ts"]) {
    await copyFile(path.join(sdkDir, "consumer", file), path.join(app, file));
  }
  const main = /<!-- main-example:start -->\s*```ts\n([\s\S]*?)```\s*<!-- main-example:end -->/.exec(readme);
  if (!main) fail("README.md has no ```ts block between the main-example markers");
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  if (!blocks.includes(main[1])) fail("could not locate the main example among the README's code blocks");
  const readmeFiles = [];
  for (const [i, code] of blocks.entries()) {
    const name = code === main[1] ? "readme-main.ts" : `readme-${i + 1}.ts`;
    // Every snippet is a module of its own (top-level await, no clashing names).
    await writeFile(path.join(app, name), `${code}\nexport {};\n`);
    readmeFiles.push(name);
  }

  const strict = {
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    noEmit: true,
    target: "ES2022",
  };
  await writeFile(
    path.join(app, "tsconfig.strict.json"),
    JSON.stringify(
      {
        compilerOptions: {
          ...strict,
          module: "NodeNext",
          moduleResolution: "NodeNext",
          lib: ["ES2022"],
          types: ["node"],
          // @trpc/client's own declarations name DOM's RequestInfo, absent from a Node-only
          // lib; the browser project below checks every declaration file, ours included.
          skipLibCheck: true,
        },
        files: ["good.ts", "bad.ts", ...readmeFiles, "live.ts"],
      },
      null,
      2,
    ),
  );
  await writeFile(
    path.join(app, "tsconfig.browser.json"),
    JSON.stringify(
      {
        compilerOptions: {
          ...strict,
          module: "ESNext",
          moduleResolution: "Bundler",
          // @trpc/server's declarations need the Disposable types.
          lib: ["ES2022", "DOM", "DOM.Iterable", "ESNext.Disposable"],
          types: [],
          // No skipping: a broken import in dist/index.d.ts must be an error, not an `any`.
          skipLibCheck: false,
        },
        files: ["good.ts", "bad.ts", ...readmeFiles],
      },
      null,
      2,
    ),
  );

  const checkStarted = performance.now();
  const check = await tsc(["-p", "tsconfig.strict.json", "--extendedDiagnostics"], { allowFailure: true });
  summary.typecheckMs = performance.now() - checkStarted;
  if (!check.ok) fail(`type-check failed:\n${check.stdout}${check.stderr}`);
  const checkTime = /^Check time:\s+([\d.]+)s/m.exec(check.stdout)?.[1];
  summary.checkTime = checkTime ? Number(checkTime) : null;
  log(
    `  node project (NodeNext, @types/node): good.ts, bad.ts, ${readmeFiles.join(", ")}, live.ts: ok in ${seconds(summary.typecheckMs)}` +
      (checkTime ? ` (tsc check time ${checkTime}s)` : ""),
  );
  const browserStarted = performance.now();
  await tsc(["-p", "tsconfig.browser.json"]);
  log(
    `  browser project (Bundler, DOM, no Node types, skipLibCheck off): ok in ${seconds(performance.now() - browserStarted)}`,
  );

  // The README's tsconfig.json, as written (skipLibCheck off), on its main example and first call.
  const readmeTsconfig = /<!-- tsconfig:start -->\s*```json\n([\s\S]*?)```\s*<!-- tsconfig:end -->/.exec(
    readme,
  )?.[1];
  if (!readmeTsconfig) fail("README.md has no ```json block between the tsconfig markers");
  await writeFile(path.join(app, "tsconfig.json"), readmeTsconfig);
  const firstCall =
    /<!-- first-call:start -->\s*```ts\n([\s\S]*?)```\s*<!-- first-call:end -->\s*```sh\n([^\n]+)\n```/.exec(
      readme,
    );
  if (!firstCall)
    fail("README.md has no first call (```ts between the first-call markers, then its ```sh command)");
  const [, firstCallCode, firstCallCommand] = firstCall;
  await mkdir(path.join(app, "src"));
  await writeFile(path.join(app, "src", "first-call.ts"), firstCallCode);
  await writeFile(path.join(app, "src", "readme-main.ts"), `${main[1]}\nexport {};\n`);
  const readmeCheckStarted = performance.now();
  await tsc(["-p", "tsconfig.json", "--noEmit"]);
  log(
    `  the README's tsconfig.json (skipLibCheck off) on src/first-call.ts and src/readme-main.ts: ok in ${seconds(performance.now() - readmeCheckStarted)}`,
  );
  // The README says a CommonJS project refuses the examples' top-level await with TS1309.
  await mkdir(path.join(app, "cjs"));
  await writeFile(path.join(app, "cjs", "package.json"), JSON.stringify({ type: "commonjs" }));
  await writeFile(path.join(app, "cjs", "main.ts"), `${main[1]}\nexport {};\n`);
  await writeFile(
    path.join(app, "tsconfig.cjs.json"),
    JSON.stringify({ extends: "./tsconfig.json", include: [], files: ["cjs/main.ts"] }, null, 2),
  );
  const cjs = await tsc(["-p", "tsconfig.cjs.json", "--noEmit", "--pretty", "false"], { allowFailure: true });
  if (cjs.ok || !/error TS1309:/.test(cjs.stdout))
    fail(
      `a CommonJS project should refuse the README's top-level await with TS1309:\n${cjs.stdout}${cjs.stderr}`,
    );
  log("  a CommonJS project refuses the main example with TS1309, as the README says");

  // The editor's hover docs: the router's own texts, read by the TypeScript language service.
  const docs = JSON.parse(
    (
      await run(process.execPath, ["--import", "tsx", "src/cli/sdk-docs.ts"], {
        cwd: path.join(repoRoot, "server"),
      })
    ).stdout,
  );
  log("  hover docs (TypeScript language service, against the installed package):");
  for (const line of checkHovers(app, docs)) log(`    ${line}`);

  // 4. The expected errors are real.
  log("\n[4/6] bad.ts without its @ts-expect-error directives must fail, line by line");
  const bad = (await readFile(path.join(app, "bad.ts"), "utf8")).split("\n");
  const expectations = [];
  const stripped = bad.map((line, index) => {
    if (!/^\s*\/\/\s*@ts-expect-error\b/.test(line)) return line;
    const code = /@ts-expect-error\s+TS(\d+)\b/.exec(line)?.[1];
    if (!code) fail(`bad.ts:${index + 1}: name the expected error, e.g. "// @ts-expect-error TS2339 why"`);
    expectations.push({ line: index + 2, code, why: line.trim() });
    return line.replace("@ts-expect-error", "(expected)");
  });
  if (expectations.length < 5) fail(`bad.ts has only ${expectations.length} expected errors`);
  await writeFile(path.join(app, "bad-stripped.ts"), stripped.join("\n"));
  await writeFile(
    path.join(app, "tsconfig.stripped.json"),
    JSON.stringify({ extends: "./tsconfig.strict.json", files: ["bad-stripped.ts"] }, null, 2),
  );
  const strippedRun = await tsc(["-p", "tsconfig.stripped.json", "--pretty", "false"], {
    allowFailure: true,
  });
  if (strippedRun.ok) fail("bad.ts type-checks without its directives: its expected errors prove nothing");
  const reported = [...strippedRun.stdout.matchAll(/^bad-stripped\.ts\((\d+),\d+\): error TS(\d+):/gm)].map(
    (m) => ({ line: Number(m[1]), code: m[2] }),
  );
  for (const { line, code, why } of expectations) {
    const here = reported.filter((r) => r.line === line);
    if (!here.some((r) => r.code === code)) {
      fail(
        `bad.ts:${line}: expected TS${code} (${why}); tsc reported ${here.length ? here.map((r) => `TS${r.code}`).join(", ") : "nothing"}\n${strippedRun.stdout}`,
      );
    }
  }
  const stray = reported.filter((r) => !expectations.some((e) => e.line === r.line));
  if (stray.length > 0) fail(`bad.ts has errors on unmarked lines:\n${strippedRun.stdout}`);
  log(`  ${expectations.length} directives, each line fails with its named code:`);
  for (const { line, code, why } of expectations) {
    log(`    line ${line}: TS${code} ${why.replace(/^\/\/\s*@ts-expect-error\s+TS\d+\s*/, "")}`);
  }

  // 5. Live.
  log("\n[5/6] live server + live.ts");
  await writeFile(
    path.join(app, "tsconfig.live.json"),
    JSON.stringify(
      {
        extends: "./tsconfig.strict.json",
        compilerOptions: { noEmit: false, outDir: "out" },
        files: ["live.ts"],
      },
      null,
      2,
    ),
  );
  await tsc(["-p", "tsconfig.live.json"]);

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  serverUrl = url;
  const env = {
    ...process.env,
    NODE_ENV: "development",
    HOST: "127.0.0.1",
    PORT: String(port),
    DATA_DIR: path.join(work, "data"),
    BCRYPT_COST: "4",
    JWT_SECRET: `consumer-test-secret-${Math.random().toString(36).slice(2)}-0123456789abcdef`,
    LOG_LEVEL: "warn",
  };
  // The embedded database, whatever the calling shell points at.
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  const serverStarted = performance.now();
  serverProcess = spawn("pnpm", ["--filter", "@agora/server", "start"], {
    cwd: repoRoot,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const collect = (chunk) => {
    serverLog = (serverLog + chunk.toString()).slice(-20_000);
  };
  serverProcess.stdout.on("data", collect);
  serverProcess.stderr.on("data", collect);

  const deadline = Date.now() + 120_000;
  for (;;) {
    if (!serverProcess || serverProcess.exitCode !== null) fail(`the server exited during startup`);
    const healthy = await fetch(`${url}/healthz`).then(
      (res) => res.ok,
      () => false,
    );
    if (healthy) break;
    if (Date.now() > deadline) fail("the server did not answer /healthz within 120s");
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  log(`  server up on ${url} in ${seconds(performance.now() - serverStarted)}`);

  const live = await run(process.execPath, [path.join(app, "out/live.js")], {
    cwd: app,
    env: { ...process.env, AGORA_URL: url },
    allowFailure: true,
    timeoutMs: 90_000,
  });
  log(live.stdout.trimEnd().replace(/^/gm, "  "));
  if (!live.ok) fail(`live.ts failed:\n${live.stderr}`);

  // The README's first call, its URL pointed at this server, compiled and run as it says.
  await writeFile(
    path.join(app, "src", "first-call.ts"),
    firstCallCode.replaceAll("http://localhost:3000", url),
  );
  log(`  README first call: ${firstCallCommand}`);
  stepStarted = performance.now();
  const call = await run("sh", ["-e", "-c", firstCallCommand], { cwd: app, allowFailure: true });
  newcomer.firstCallMs = performance.now() - stepStarted;
  if (!call.ok || !/^\d+ active markets:/m.test(call.stdout))
    fail(`the README's first call failed:\n${call.stdout}${call.stderr}`);
  log(call.stdout.trimEnd().replace(/^/gm, "    "));
  summary.newcomer = newcomer;

  const stopStarted = performance.now();
  await stopServer();
  log(`  server stopped (SIGTERM) in ${seconds(performance.now() - stopStarted)}`);

  ok = true;
} catch (error) {
  console.error(
    `\nconsumer test FAILED: ${error instanceof StepError ? error.message : (error?.stack ?? error)}`,
  );
  if (serverLog)
    console.error(`\nserver output (last lines):\n${serverLog.split("\n").slice(-40).join("\n")}`);
} finally {
  await stopServer().catch((error) => {
    ok = false;
    console.error(error.message);
  });
  if (ok && !process.env.KEEP_CONSUMER_DIR) await rm(work, { recursive: true, force: true });
  else log(`\n(kept ${work})`);
}

log("\n[6/6] summary");
if (summary.tarball) {
  log(
    `  tarball: ${summary.tarball.name}, ${kb(summary.tarball.bytes)} packed (${summary.tarball.bytes} bytes), ${kb(summary.tarball.unpacked)} unpacked`,
  );
}
if (summary.typecheckMs !== undefined) {
  log(
    `  consumer type-check (tsc --noEmit -p tsconfig.strict.json: good.ts, bad.ts, README examples, live.ts): ${seconds(summary.typecheckMs)} wall` +
      (summary.checkTime != null ? `, ${summary.checkTime}s check time` : ""),
  );
}
if (summary.newcomer) {
  const { packMs, installMs, firstCallMs } = summary.newcomer;
  log(
    `  pack to a first typed call (README steps, server already running): ${seconds(packMs + installMs + firstCallMs)}` +
      ` = pack ${seconds(packMs)} + npm install ${seconds(installMs)} + npx tsc and the call ${seconds(firstCallMs)}`,
  );
}
log(`  total: ${seconds(performance.now() - started)}`);
log(ok ? "consumer test passed" : "consumer test failed");
process.exitCode = ok ? 0 : 1;
