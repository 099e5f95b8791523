// `pnpm start`: the server from its TypeScript sources, as they are now, without a TypeScript
// loader in the process. Running the sources through tsx's loader cost about a second on every
// start (each of the ~1,500 modules the server loads went through the loader's hooks, on a
// thread of their own); plain JavaScript loads at the speed of the production build.
//
// So the sources (server/src, the generated Prisma client included) are bundled by esbuild, as
// the production build's main.js is (scripts/bundle-server.mjs: node_modules external, the
// lazy imports as chunks), into server/dist-start/ (same depth as server/dist/, so paths such
// as the repository root and the public/ folder resolve alike), and that is what runs: a few
// files instead of ~120 modules of ours for Node's loader. What is there is never trusted:
// every start compares each source file's size and modification time with what the last
// bundle recorded (about 130 stat calls, a few milliseconds), bundles again if any differs
// (0.2-0.5 s), copies the other files (the worker .mjs files), and only then starts. An edit,
// `git checkout`, `git stash` or a new `prisma generate` is therefore always what runs;
// nothing needs building by hand. The transform is esbuild's, the one tsx itself applies
// (resolved through tsx, whose dependency it is), so the code runs as it did under tsx; type
// errors are `pnpm typecheck`'s to report, as they were.
//
// `pnpm dev` (scripts/dev.mjs) is unchanged: tsx watch, restarting on every save.
/* global process */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { bundleServer, loadEsbuild } from "./bundle-server.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const srcDir = path.join(root, "server/src");
const outDir = path.join(root, "server/dist-start");
const manifestFile = path.join(outDir, ".sources.json");
/** Bumped when what this script writes changes, so an older output is never reused. */
const FORMAT = 2;

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

const isScript = (file) => file.endsWith(".ts") && !file.endsWith(".d.ts");

/** What the last transpile recorded: the sources' stamps and the files the bundle wrote. */
function readManifest() {
  try {
    const manifest = JSON.parse(readFileSync(manifestFile, "utf8"));
    if (manifest.format === FORMAT)
      return { files: new Map(Object.entries(manifest.files)), outputs: manifest.outputs };
  } catch {
    // none yet, or unreadable: everything is made again
  }
  return null;
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

async function sync() {
  const sources = scan();
  const manifest = readManifest();
  // A folder of an older format (or none) is made anew.
  if (!manifest) rmSync(outDir, { recursive: true, force: true });
  const known = manifest?.files ?? new Map();
  const changed = [...sources].filter(([file, stamp]) => known.get(file) !== stamp).map(([file]) => file);
  const removed = [...known.keys()].filter((file) => !sources.has(file));
  if (changed.length === 0 && removed.length === 0) return;

  // Files other than TypeScript (the worker .mjs files, started by path) are copied as they are.
  for (const file of removed.filter((f) => !isScript(f))) rmSync(path.join(outDir, file), { force: true });
  for (const file of changed.filter((f) => !isScript(f)))
    writeAtomically(path.join(outDir, file), readFileSync(path.join(srcDir, file)));
  let outputs = manifest?.outputs ?? [];
  if ([...changed, ...removed].some(isScript)) {
    const esbuild = loadEsbuild();
    let files;
    try {
      files = await bundleServer(esbuild, outDir);
    } finally {
      // Its helper process must not outlive the transpile (nor sit in the server's process tree).
      await esbuild.stop();
    }
    for (const file of files) writeAtomically(file.path, file.contents);
    const written = files.map((file) => path.relative(outDir, file.path));
    for (const old of outputs) if (!written.includes(old)) rmSync(path.join(outDir, old), { force: true });
    outputs = written;
  }
  // Written last: a start cut short leaves the files it did not record to be done again.
  writeAtomically(
    manifestFile,
    JSON.stringify({ format: FORMAT, files: Object.fromEntries(sources), outputs }),
  );
}

try {
  mkdirSync(outDir, { recursive: true });
  await sync();
} catch (error) {
  process.stderr.write(
    `Agora could not start: the sources could not be prepared: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
}
// `--prepare` (run by postinstall): bring the folder up to date and stop, so a clone's first
// `pnpm start` has nothing to transpile.
if (!process.argv.includes("--prepare")) await import(pathToFileURL(path.join(outDir, "main.js")).href);
