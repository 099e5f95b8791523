import { spawn } from "node:child_process";
import path from "node:path";
import { expect, it } from "vitest";

// The published-package check (client-sdk/scripts/consumer-test.mjs): the SDK README's install
// steps as written (pack, then in a new project outside the workspace: ESM, the tarball,
// TypeScript), type-check good and deliberately bad calls and the README's tsconfig, check an
// editor's hover docs on procedures and fields (the router's descriptions), drive a
// live server with it, and the README's first call. Run here so `pnpm test` covers it.
it("the packed @agora/client type-checks and works in a project outside the workspace", async () => {
  const root = path.resolve(import.meta.dirname, "..");
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ["client-sdk/scripts/consumer-test.mjs"], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let text = "";
    child.stdout.on("data", (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (text += chunk.toString()));
    child.on("error", reject);
    child.on("close", (exit) => {
      resolve({ code: exit, output: text });
    });
  });
  if (process.env.CI) process.stdout.write(`${output.split("[6/6] summary")[1] ?? output}\n`);
  expect(output, output).toContain("consumer test passed");
  // Each README step ran as documented, down to the first typed call against the server.
  expect(output).toContain("README install step 1: pnpm --filter @agora/client pack --pack-destination ");
  expect(output).toMatch(
    /npm install \S+\/pack\/agora-client-[\d.]+\.tgz @trpc\/client@11 @trpc\/server@11\n/,
  );
  expect(output).toContain("a CommonJS project refuses the main example with TS1309, as the README says");
  // An editor's hover shows the router's descriptions (client-sdk/scripts/hover-check.mjs).
  expect(output).toMatch(/hover docs \(TypeScript language service, against the installed package\):\n/);
  expect(output).toMatch(/procedure markets\.create: "\S.*"\n/);
  expect(output).toMatch(/markets\.create input `name`: "\S.*"\n/);
  expect(output).toContain("data.volumeCents is reported deprecated");
  expect(output).toMatch(/README first call: npx tsc && node dist\/first-call\.js\n\s+\d+ active markets:/);
  expect(output).toMatch(/pack to a first typed call \(README steps, server already running\): [\d.]+s/);
  expect(code, output).toBe(0);
}, 400_000);
