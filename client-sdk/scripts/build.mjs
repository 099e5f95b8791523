// Builds the publishable package: dist/index.js and dist/react.js (ESM, `@agora/client` and
// `@agora/client/react`, sharing one chunk) and their self-contained declarations.
//
// The router's types live in the server's source and reach Prisma, zod and the request
// context. tsc's declaration emit already expands every procedure's input and output into
// plain object types; only the router's `ctx` still points into the server. So:
//   1. emit the server's declarations, and write the router's documentation into them as JSDoc
//   (scripts/document-types.mjs: the texts the panel and the OpenAPI document show, for the
//   editor's hover), 2. replace the request context with an opaque type (clients never see
//   it), 3. compile the SDK against those declarations, 4. bundle the JS
//   and the declarations (rollup-plugin-dts inlines the router's types), 5. check that the
//   bundle imports nothing but the package's declared dependencies.
/* global console, performance, process */
import { execFileSync } from "node:child_process";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { rollup } from "rollup";
import { dts } from "rollup-plugin-dts";
import { documentRouterTypes } from "./document-types.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const serverDir = path.join(root, "../server");
const buildDir = path.join(root, ".tmp/build");
const distDir = path.join(root, "dist");
const tsc = path.join(root, "node_modules/typescript/bin/tsc");
const pkg = JSON.parse(await readFile(path.join(root, "package.json"), "utf8"));

/** What the built files may import: the package's own dependencies and peers. */
const allowed = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})];
const isExternal = (id) => allowed.some((dep) => id === dep || id.startsWith(`${dep}/`));

function step(label, fn) {
  const started = performance.now();
  return Promise.resolve(fn()).then((result) => {
    console.log(`  ${label} (${((performance.now() - started) / 1000).toFixed(1)}s)`);
    return result;
  });
}

function run(args, cwd = root) {
  execFileSync(process.execPath, [tsc, ...args], { cwd, stdio: "inherit" });
}

console.log("building @agora/client");
await rm(buildDir, { recursive: true, force: true });
await rm(distDir, { recursive: true, force: true });

await step("server declarations", () => run(["-p", path.join(root, "tsconfig.router-types.json")]));

const documented = await step("hover docs from the router's schemas", async () => {
  // The descriptions the panel and the OpenAPI document show, read from the live router.
  const out = execFileSync(process.execPath, ["--import", "tsx", "src/cli/sdk-docs.ts"], {
    cwd: serverDir,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const file = path.join(buildDir, "server/router.d.ts");
  const ts = (await import("typescript")).default;
  const result = documentRouterTypes(ts, await readFile(file, "utf8"), JSON.parse(out));
  if (result.undocumented.length > 0)
    throw new Error(`no declaration found to document for: ${result.undocumented.join(", ")}`);
  await writeFile(file, result.text);
  return result;
});
console.log(`    JSDoc on ${documented.procedures} procedures and ${documented.fields} of their fields`);

await step("opaque request context", async () => {
  const file = path.join(buildDir, "server/trpc/context.d.ts");
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(
    file,
    "/** The server's per-request context: internal to the server, opaque to clients. */\n" +
      "export interface Context {}\n",
  );
});

await step("compile the SDK", () => run(["-p", path.join(root, "tsconfig.build.json")]));

const routerTypes = {
  name: "agora-router-types",
  resolveId(id) {
    return id === "@agora/server/router" ? path.join(buildDir, "server/router.d.ts") : null;
  },
};

const entries = ["index", "react"];
const output = { dir: distDir, format: "es", entryFileNames: "[name].js", chunkFileNames: "[name].js" };

await step("bundle dist/index.js, dist/react.js", async () => {
  const input = Object.fromEntries(entries.map((name) => [name, path.join(buildDir, `sdk/${name}.js`)]));
  const bundle = await rollup({ input, external: isExternal });
  await bundle.write({ ...output, chunkFileNames: "shared.js" });
  await bundle.close();
});

await step("bundle dist/index.d.ts, dist/react.d.ts", async () => {
  const input = Object.fromEntries(entries.map((name) => [name, path.join(buildDir, `sdk/${name}.d.ts`)]));
  const bundle = await rollup({ input, external: isExternal, plugins: [routerTypes, dts()] });
  await bundle.write({ ...output, entryFileNames: "[name].d.ts", chunkFileNames: "shared.d.ts" });
  await bundle.close();
});

await step("check the bundle is self-contained", async () => {
  const files = await readdir(distDir);
  // The entries import each other and the shared chunk ("./shared.js"; a .d.ts resolves
  // "./x.js" to its "./x.d.ts"), and otherwise only the declared dependencies and peers.
  const inDist = (s) => s.startsWith("./") && files.includes(s.slice(2)) && !s.slice(2).includes("/");
  for (const file of files) {
    const text = await readFile(path.join(distDir, file), "utf8");
    const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)["']([^"']+)["']/g)].map(
      (m) => m[1],
    );
    const foreign = specifiers.filter((s) => !isExternal(s) && !inDist(s));
    if (foreign.length > 0) throw new Error(`dist/${file} imports undeclared modules: ${foreign.join(", ")}`);
    for (const leak of ["@agora/server", "@prisma/", "generated/prisma", "PrismaClient"]) {
      if (text.includes(leak)) throw new Error(`dist/${file} mentions ${leak}: server internals leaked`);
    }
  }
});

console.log("done: dist/index.js, dist/react.js, their .d.ts and the shared chunk");
