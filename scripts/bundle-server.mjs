// The last step of `pnpm --filter @agora/server build`: server/dist/main.js (and what it imports
// lazily) as a few esbuild bundles instead of ~120 modules of ours, each resolved, read and
// compiled on its own at every start (Node's module loader was most of a restart's time). The
// packages in node_modules stay external (imported as they are: Prisma's Wasm engine, PGlite
// and piscina find their files next to their own modules). tsc's per-file output stays beside
// it for the other entry points (seed/cli.js, cli/*) and for the worker .mjs files' layout.
//
// A module of ours that locates a file from `import.meta.url` (paths.ts, docs.ts, the worker
// URLs, the generated Prisma client) is given the URL its own file has in dist/, so every path
// resolves as it does unbundled.
import { mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const srcDir = path.join(root, "server/src");
const outDir = path.join(root, "server/dist");

/** `import.meta.url` as the module's own file in dist/ (relative to the bundle or chunk, in dist/ too). */
const ownUrl = {
  name: "own-import-meta-url",
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      const text = readFileSync(args.path, "utf8");
      if (!args.path.startsWith(srcDir + path.sep) || !text.includes("import.meta.url")) return undefined;
      const own = `./${path.relative(srcDir, args.path).replace(/\.ts$/, ".js").split(path.sep).join("/")}`;
      return {
        contents: text.replaceAll("import.meta.url", `new URL(${JSON.stringify(own)}, import.meta.url).href`),
        loader: "ts",
      };
    });
  },
};

/**
 * Bundles server/src/main.ts into `outDir` (main.js and its chunks, with source maps) and
 * returns esbuild's output files without writing them. `pnpm start` (scripts/start.mjs) makes
 * server/dist-start/ the same way.
 */
export async function bundleServer(esbuild, outDir) {
  const result = await esbuild.build({
    entryPoints: { main: path.join(srcDir, "main.ts") },
    outdir: outDir,
    entryNames: "[name]",
    // In outDir itself, beside main.js: the rewritten URLs above are relative to it.
    chunkNames: "[name]-[hash]",
    bundle: true,
    splitting: true,
    packages: "external",
    format: "esm",
    platform: "node",
    target: `node${process.versions.node}`,
    tsconfig: path.join(root, "server/tsconfig.json"),
    sourcemap: "linked",
    sourcesContent: false,
    logLevel: "error",
    write: false,
    plugins: [ownUrl],
  });
  return result.outputFiles;
}

/** tsx's own esbuild (tsx is a dependency of the server, so it is there wherever the server builds). */
export function loadEsbuild() {
  return createRequire(realpathSync(path.join(root, "node_modules/tsx/package.json")))("esbuild");
}

// Run as a script (the build): write server/dist/'s bundles over tsc's main.js. The chunks'
// names carry a hash of their content and tsc does not empty dist/, so what the previous build
// wrote and this one does not is removed (its list is kept in dist/.bundle-files.json).
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const esbuild = loadEsbuild();
  const listFile = path.join(outDir, ".bundle-files.json");
  let previous = [];
  try {
    previous = JSON.parse(readFileSync(listFile, "utf8"));
  } catch {
    previous = [];
  }
  try {
    const written = [];
    for (const file of await bundleServer(esbuild, outDir)) {
      mkdirSync(path.dirname(file.path), { recursive: true });
      writeFileSync(file.path, file.contents);
      written.push(path.relative(outDir, file.path));
    }
    for (const name of previous) {
      if (!written.includes(name)) rmSync(path.join(outDir, name), { force: true });
    }
    writeFileSync(listFile, JSON.stringify(written));
  } finally {
    await esbuild.stop();
  }
}
