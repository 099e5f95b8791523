import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "./support/build.js";
import { ADMIN, startTestServer, type TestServer } from "./support/server.js";

const execFileAsync = promisify(execFile);

let ts: TestServer;
beforeAll(async () => {
  ts = await startTestServer();
});
afterAll(async () => {
  await ts.close();
});

interface ScriptResult {
  ok: boolean;
  userId: string;
  marketId: string;
  orderId: string;
  totalCents: number;
  checked: string[];
  apiKeyId: string;
  role: string;
}

/** Runs the Python client against the server; fails with its stderr when it exits non-zero. */
async function runPythonClient(url: string): Promise<ScriptResult> {
  try {
    const { stdout } = await execFileAsync(
      "python3",
      ["tests/python/agora_rest_client.py", url, ADMIN.email, ADMIN.password],
      {
        cwd: repoRoot,
        timeout: 60_000,
      },
    );
    const lines = stdout.trim().split("\n");
    return JSON.parse(lines[lines.length - 1] ?? "") as ScriptResult;
  } catch (error) {
    const failure = error as { code?: number | string; signal?: string; stdout?: string; stderr?: string };
    throw new Error(
      `python client failed (exit ${String(failure.code)}${failure.signal ? `, signal ${failure.signal}` : ""}):\n` +
        `stderr:\n${failure.stderr ?? String(error)}\nstdout:\n${failure.stdout ?? ""}`,
      { cause: error },
    );
  }
}

describe("a Python client of the REST API", () => {
  it(
    "registers, builds a market, orders, sees the documented error bodies, and administers users and keys",
    { timeout: 90_000 },
    async () => {
      const result = await runPythonClient(ts.url);
      expect(result.ok).toBe(true);
      expect(result.totalCents).toBe(3998);
      expect(result.checked.length).toBeGreaterThan(10);

      // The order really exists on the server: the admin reads it through the tRPC client.
      const admin = await ts.client().auth.login.mutate({ email: ADMIN.email, password: ADMIN.password });
      const order = await ts
        .client({ token: admin.tokens.accessToken })
        .orders.byId.query({ id: result.orderId });
      expect(order.totalCents).toBe(3998);
      expect(order.userId).toBe(result.userId);
      expect(order.marketId).toBe(result.marketId);
      expect(order.status).toBe("CONFIRMED");

      // The admin steps took effect: the role was set and the key is revoked.
      expect(result.role).toBe("ADMIN");
      const user = await ts
        .client({ token: admin.tokens.accessToken })
        .users.byId.query({ id: result.userId });
      expect(user.role).toBe("ADMIN");
      const keys = await ts.client({ token: admin.tokens.accessToken }).apiKeys.list.query();
      expect(keys.find((k) => k.id === result.apiKeyId)?.revokedAt).toBeInstanceOf(Date);
    },
  );
});
