import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import lockfile from "proper-lockfile";

export const repoRoot = path.resolve(import.meta.dirname, "../..");
const serverDir = path.join(repoRoot, "server");
const stampFile = path.join(serverDir, "dist", ".build-stamp");

/** Runs a command to completion; rejects with its output when it fails. */
export async function run(command: string, args: string[], cwd: string, env = process.env): Promise<string> {
  const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  const output: string[] = [];
  child.stdout.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  if (code !== 0)
    throw new Error(`${command} ${args.join(" ")} exited with ${String(code)}:\n${output.join("")}`);
  return output.join("");
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/** A digest of everything the server build reads, so an unchanged tree is not rebuilt. */
async function sourceDigest(): Promise<string> {
  const hash = createHash("sha256");
  const inputs = [
    ...(await filesUnder(path.join(serverDir, "src"))),
    path.join(serverDir, "package.json"),
    path.join(serverDir, "tsconfig.json"),
    path.join(serverDir, "tsconfig.build.json"),
    path.join(repoRoot, "tsconfig.json"),
  ];
  for (const file of inputs) {
    hash.update(path.relative(repoRoot, file));
    hash.update(await readFile(file));
  }
  return hash.digest("hex");
}

/**
 * `pnpm --filter @agora/server build`, the Dockerfile's build step, into server/dist/. Test
 * files (and concurrent runs) that need it take turns under a lock, and a dist/ built from
 * the same sources is reused.
 */
export async function ensureServerBuild(): Promise<void> {
  const lockDir = path.join(repoRoot, ".tmp");
  await mkdir(lockDir, { recursive: true });
  const release = await lockfile.lock(lockDir, {
    lockfilePath: path.join(lockDir, "server-build.lock"),
    stale: 60_000,
    retries: { retries: 300, minTimeout: 200, maxTimeout: 1000 },
  });
  try {
    const digest = await sourceDigest();
    const built = existsSync(stampFile) ? await readFile(stampFile, "utf8") : null;
    if (built === digest && existsSync(path.join(serverDir, "dist", "main.js"))) return;
    await run("pnpm", ["--filter", "@agora/server", "build"], repoRoot);
    await writeFile(stampFile, digest);
  } finally {
    await release();
  }
}
