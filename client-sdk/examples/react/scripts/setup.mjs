// Installs the example app as a user of the SDK would: packs @agora/client (the SDK README's
// install step 1) into the app's .sdk/ folder, then `pnpm install --frozen-lockfile` with the
// app's own lockfile, outside the workspace's install.
//
// The lockfile pins every third-party package. Its entry for the local tarball carries the
// tarball's checksum, which changes with every build of the SDK: that one value is set to the
// tarball just packed for the install, and the committed lockfile is put back afterwards.
//
// Usage: node client-sdk/examples/react/scripts/setup.mjs [app-dir]   (root: pnpm example:react)
/* global console, process */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const exampleDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const repoRoot = path.resolve(exampleDir, "../../..");
const appDir = path.resolve(process.argv[2] ?? exampleDir);
const sdkDir = path.join(appDir, ".sdk");

const sh = (command, args, cwd) => execFileSync(command, args, { cwd, stdio: "inherit" });

await rm(sdkDir, { recursive: true, force: true });
await mkdir(sdkDir, { recursive: true });
sh("pnpm", ["--filter", "@agora/client", "pack", "--pack-destination", sdkDir], repoRoot);
const [tarball] = (await readdir(sdkDir)).filter((f) => f.endsWith(".tgz"));
if (!tarball) throw new Error("pnpm pack produced no tarball");

const lockPath = path.join(appDir, "pnpm-lock.yaml");
const committed = await readFile(lockPath, "utf8");
const entry = new RegExp(
  `(resolution: \\{integrity: )sha512-[A-Za-z0-9+/=]+(, tarball: file:\\.sdk/${tarball})`,
);
if (!entry.test(committed)) throw new Error(`pnpm-lock.yaml has no entry for .sdk/${tarball}`);
const integrity = `sha512-${createHash("sha512")
  .update(await readFile(path.join(sdkDir, tarball)))
  .digest("base64")}`;
await writeFile(lockPath, committed.replace(entry, `$1${integrity}$2`));
try {
  // --ignore-workspace: the app is not a workspace package; it has its own lockfile.
  sh(
    "pnpm",
    ["install", "--frozen-lockfile", "--ignore-workspace", "--config.confirmModulesPurge=false"],
    appDir,
  );
} finally {
  await writeFile(lockPath, committed);
}
console.log(`installed ${path.relative(process.cwd(), appDir) || "."} with .sdk/${tarball}`);
