import { execFile } from "node:child_process";
import {
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "./support/process.js";

const run = promisify(execFile);

// scripts/start.mjs (`pnpm start`) bundles server/src into server/dist-start/ when a source
// changed since the last start, and runs that. Here on a copy of the sources (the scripts, the
// server's sources and tsconfigs; node_modules linked), so the repository's own files are
// never edited while other tests run from them.
let copy: string;

/** `node scripts/start.mjs --prepare` in the copy: brings dist-start up to date, starts nothing. */
async function prepare(): Promise<void> {
  await run(process.execPath, [path.join(copy, "scripts/start.mjs"), "--prepare"], { cwd: copy });
}

/** Everything the bundle wrote (main.js and its chunks), as one text. */
async function bundled(): Promise<string> {
  const dir = path.join(copy, "server/dist-start");
  const files = (await readdir(dir)).filter((f) => f.endsWith(".js"));
  return (await Promise.all(files.map((f) => readFile(path.join(dir, f), "utf8")))).join("\n");
}

beforeAll(async () => {
  copy = await mkdtemp(path.join(os.tmpdir(), "agora-start-script-"));
  await mkdir(path.join(copy, "server"), { recursive: true });
  await cp(path.join(repoRoot, "scripts"), path.join(copy, "scripts"), { recursive: true });
  await cp(path.join(repoRoot, "server/src"), path.join(copy, "server/src"), { recursive: true });
  for (const file of ["tsconfig.json", "server/tsconfig.json"])
    await cp(path.join(repoRoot, file), path.join(copy, file));
  await symlink(path.join(repoRoot, "node_modules"), path.join(copy, "node_modules"));
  await symlink(path.join(repoRoot, "server/node_modules"), path.join(copy, "server/node_modules"));
}, 60_000);

afterAll(async () => {
  await rm(copy, { recursive: true, force: true });
});

describe("pnpm start's transpile (scripts/start.mjs)", () => {
  it("bundles the sources once, and again only when a source changed: the edit is what runs next", async () => {
    await prepare();
    const first = await bundled();
    expect(first).toContain('"starting Agora"');
    // The worker files are copied beside their modules' bundled URLs.
    await readFile(path.join(copy, "server/dist-start/infra/password-worker.mjs"), "utf8");

    // Nothing changed: nothing is written again.
    const manifest = path.join(copy, "server/dist-start/.sources.json");
    const before = await readFile(manifest, "utf8");
    // Whole seconds: what the file system stores is compared.
    const stamp = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    await utimes(manifest, stamp, stamp);
    await prepare();
    expect(Math.round((await stat(manifest)).mtimeMs)).toBe(stamp.getTime());

    // An edit (a log message of main.ts) is in the next start's bundle, the old text gone.
    const main = path.join(copy, "server/src/main.ts");
    const source = await readFile(main, "utf8");
    await writeFile(main, source.replace('"starting Agora"', '"starting Agora (edited)"'));
    await prepare();
    const second = await bundled();
    expect(second).toContain('"starting Agora (edited)"');
    expect(second).not.toContain('"starting Agora"');
    expect(await readFile(manifest, "utf8")).not.toBe(before);
  });
});
