import { spawn } from "node:child_process";
import path from "node:path";
import { expect, it } from "vitest";

// The published-package check (client-sdk/scripts/consumer-test.mjs): pack the SDK, install
// only the tarball in a project outside the workspace, type-check good and deliberately bad
// calls, and drive a live server with it. Run here so `pnpm test` covers it.
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
  expect(code, output).toBe(0);
}, 400_000);
