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
import { readFileSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const srcDir = path.join(root, "server/src");
const outDir = path.join(root, "server/dist");
// tsx's own esbuild, as scripts/start.mjs uses (tsx is a dependency of the server).
const esbuild = createRequire(realpathSync(path.join(root, "node_modules/tsx/package.json")))("esbuild");

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

try {
  await esbuild.build({
    entryPoints: { main: path.join(srcDir, "main.ts") },
    outdir: outDir,
    entryNames: "[name]",
    // In dist/ itself, beside main.js: the rewritten URLs above are relative to dist/.
    chunkNames: "[name]-[hash]",
    bundle: true,
    splitting: true,
    packages: "external",
    format: "esm",
    platform: "node",
    target: "node20",
    tsconfig: path.join(root, "server/tsconfig.json"),
    sourcemap: "linked",
    logLevel: "warning",
    plugins: [ownUrl],
  });
} finally {
  await esbuild.stop();
}
