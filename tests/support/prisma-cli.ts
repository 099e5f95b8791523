import { spawn } from "node:child_process";
import path from "node:path";
import type { Logger } from "@agora/server/testing";
import { repoRoot } from "./process.js";

/**
 * Applies committed migrations with Prisma's own CLI (`prisma migrate deploy`). The server
 * uses the in-process `applyMigrations` instead; this stays for checking that both agree.
 */
export async function migrateDeploy(url: string, log: Logger): Promise<void> {
  const started = Date.now();
  const prismaBin = path.join(repoRoot, "node_modules", ".bin", "prisma");
  const output: string[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(prismaBin, ["migrate", "deploy", "--config", "prisma.config.ts"], {
      cwd: repoRoot,
      env: { ...process.env, DATABASE_URL: url, PRISMA_HIDE_UPDATE_MESSAGE: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    child.on("error", reject);
    child.on("close", resolve);
  });
  if (code !== 0) {
    throw new Error(`prisma migrate deploy failed (exit ${String(code)}):\n${output.join("")}`);
  }
  const applied = /(\d+) migrations? found/.exec(output.join(""));
  log.info(
    { ms: Date.now() - started, migrations: applied ? Number(applied[1]) : undefined },
    "migrations applied",
  );
}
