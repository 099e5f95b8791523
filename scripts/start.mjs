// `pnpm start`: the server from its TypeScript sources, as they are now, without a TypeScript
// loader in the process. Running the sources through tsx's loader cost about a second on every
// start (each of the ~1,500 modules the server loads went through the loader's hooks, on a
// thread of their own); plain JavaScript loads at the speed of the production build.
//
// So the sources (server/src, the generated Prisma client included) are transpiled, file by
// file, into server/dist-start/ (same layout and depth as server/dist/, so paths such as the
// repository root and the public/ folder resolve alike), and that is what runs. What is there
// is never trusted: every start compares each source file's size and modification time with
// what the last transpile recorded (about 130 stat calls, a few milliseconds), transpiles what
// differs, removes what no longer has a source, and only then starts. An edit, `git checkout`,
// `git stash` or a new `prisma generate` is therefore always what runs; nothing needs building
// by hand. The transform is esbuild's, the one tsx itself applies (resolved through tsx, whose
// dependency it is), so the code runs exactly as it did under tsx; type errors are `pnpm
// typecheck`'s to report, as they were.
//
// `pnpm dev` (scripts/dev.mjs) is unchanged: tsx watch, restarting on every save.
/* global process */
import { createRequire } from "node:module";
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const srcDir = path.join(root, "server/src");
const outDir = path.join(root, "server/dist-start");
const manifestFile = path.join(outDir, ".sources.json");
/** Bumped when what this script writes changes, so an older output is never reused. */
const FORMAT = 1;

/** Every file under server/src: relative path -> "size:mtime". */
function scan(dir = srcDir, out = new Map()) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) scan(full, out);
    else if (entry.isFile()) {
      const stat = statSync(full);
      out.set(path.relative(srcDir, full), `${stat.size}:${stat.mtimeMs}`);
    }
  }
  return out;
}

/** What a source file becomes in outDir (a .ts file its .js; anything else, a copy). */
const outputOf = (file) =>
  path.join(outDir, file.endsWith(".ts") && !file.endsWith(".d.ts") ? `${file.slice(0, -3)}.js` : file);

function readManifest() {
  try {
    const manifest = JSON.parse(readFileSync(manifestFile, "utf8"));
    return manifest.format === FORMAT ? new Map(Object.entries(manifest.files)) : new Map();
  } catch {
    return new Map();
  }
}

/**
 * Whole files only: several starts at once (a test run, WEB_CONCURRENCY's workers) may bring
 * the folder up to date together; each writes the same bytes, and a file is replaced by a
 * rename, so none of them ever imports one half-written.
 */
function writeAtomically(file, contents) {
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, contents);
  renameSync(temporary, file);
}

function loadEsbuild() {
  // tsx's own esbuild: the transform `node --import tsx` applied to these files.
  const tsx = realpathSync(path.join(root, "node_modules/tsx/package.json"));
  return createRequire(tsx)("esbuild");
}

function sync() {
  const sources = scan();
  const known = readManifest();
  const changed = [...sources].filter(([file, stamp]) => known.get(file) !== stamp).map(([file]) => file);
  const removed = [...known.keys()].filter((file) => !sources.has(file));
  if (changed.length === 0 && removed.length === 0) return;

  for (const file of removed) {
    rmSync(outputOf(file), { force: true });
    rmSync(`${outputOf(file)}.map`, { force: true });
  }
  const scripts = changed.filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"));
  const others = changed.filter((file) => !scripts.includes(file));
  for (const file of others) writeAtomically(outputOf(file), readFileSync(path.join(srcDir, file)));
  if (scripts.length > 0) {
    const esbuild = loadEsbuild();
    // server/tsconfig.json is read for what tsx reads from it (e.g. verbatimModuleSyntax).
    const result = esbuild.buildSync({
      entryPoints: scripts.map((file) => path.join(srcDir, file)),
      outbase: srcDir,
      outdir: outDir,
      bundle: false,
      format: "esm",
      platform: "node",
      target: `node${process.versions.node}`,
      tsconfig: path.join(root, "server/tsconfig.json"),
      sourcemap: "linked",
      sourcesContent: false,
      logLevel: "error",
      write: false,
    });
    // Its helper process must not outlive the transpile (nor sit in the server's process tree).
    esbuild.stop();
    for (const output of result.outputFiles) writeAtomically(output.path, output.contents);
  }
  // Written last: a start cut short leaves the files it did not record to be done again.
  writeAtomically(manifestFile, JSON.stringify({ format: FORMAT, files: Object.fromEntries(sources) }));
}

try {
  mkdirSync(outDir, { recursive: true });
  sync();
} catch (error) {
  process.stderr.write(
    `Agora could not start: the sources could not be prepared: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
}
// `--prepare` (run by postinstall): bring the folder up to date and stop, so a clone's first
// `pnpm start` has nothing to transpile.
if (!process.argv.includes("--prepare")) await import(pathToFileURL(path.join(outDir, "main.js")).href);
