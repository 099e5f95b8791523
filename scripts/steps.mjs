/**
 * What the step-by-step checks share (scripts/readme-quickstart.mjs,
 * client-sdk/scripts/consumer-test.mjs): a failure that is the check's verdict rather than a
 * bug in the script, commands whose output goes into that verdict, and a free local port.
 */
/* global process */
import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** A step that failed; its message is the report (no stack trace). */
export class StepError extends Error {}

export function fail(message) {
  throw new StepError(message);
}

/**
 * Runs a command and resolves with `{ ok, stdout, stderr }`. A failure fails the step with the
 * command's output, unless `allowFailure` is set (then `ok` is false).
 */
export async function run(command, args, { cwd, env, allowFailure = false, timeoutMs = 300_000 } = {}) {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, {
      cwd,
      env: env ?? process.env,
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { ok: true, stdout, stderr };
  } catch (error) {
    const result = { ok: false, stdout: error.stdout ?? "", stderr: error.stderr ?? String(error) };
    if (allowFailure) return result;
    fail(`${command} ${args.join(" ")} failed${cwd ? ` in ${cwd}` : ""}\n${result.stdout}${result.stderr}`);
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
