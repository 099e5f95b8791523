// `pnpm db:seed`: adds the demo marketplace to the configured database (DATABASE_URL, or the
// embedded one in DATA_DIR) and prints how to log in. Safe to run again: it only adds what is
// missing. Compiled with the server, so an image can run `node server/dist/seed/cli.js`.
import { ConfigError, loadConfig, type Config } from "../config.js";
import { dataDirHolder } from "../infra/database/embedded/data-dir-lock.js";
import { createInfra, type Infra } from "../infra.js";
import { createLogger } from "../infra/logger.js";
import { defineJobs } from "../jobs.js";
import { createServices } from "../services.js";
import { createdAnything, describeCounts, loginLines, seedDemo } from "./demo.js";

async function embeddedDirInUse(config: Config): Promise<string | null> {
  const db = config.database;
  if (db.kind !== "embedded" || db.dataDir === null) return null;
  // No such folder yet, or no lock file in it: nobody holds it.
  return (await dataDirHolder(db.dataDir)) ? db.dataDir : null;
}

async function main(): Promise<number> {
  let config: Config;
  try {
    // Quiet unless asked; this process only prepares data, and its jobs (the demo orders'
    // confirmation mails) are left for the server's workers.
    config = loadConfig({ LOG_LEVEL: "warn", ...process.env, JOB_WORKERS: "false" });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }

  const busy = await embeddedDirInUse(config);
  if (busy) {
    process.stderr.write(
      `The embedded database in ${busy} is in use by a running Agora server.\n` +
        "Stop the server and run `pnpm db:seed` again, or let the server seed it: on an empty\n" +
        "database, `pnpm start` seeds the demo data itself (SEED_DEMO, on by default in development).\n",
    );
    return 1;
  }

  const log = createLogger(config.logLevel);
  let infra: Infra;
  try {
    infra = await createInfra(config, { log });
  } catch (error) {
    if (await embeddedDirInUse(config)) {
      process.stderr.write("The embedded database was opened by a server meanwhile: stop it and retry.\n");
      return 1;
    }
    throw error;
  }
  try {
    await infra.database.open();
    const services = createServices(infra);
    defineJobs(services, config, log);
    await infra.jobs.start();
    const target =
      config.database.kind === "postgres" ? "PostgreSQL (DATABASE_URL)" : "the embedded database";
    const report = await seedDemo({ services, db: infra.database.prisma });
    if (createdAnything(report)) {
      process.stdout.write(`Demo data added to ${target}: ${describeCounts(report.created)}.\n`);
      if (Object.values(report.existing).some((n) => n > 0)) {
        process.stdout.write(`Already there and left alone: ${describeCounts(report.existing)}.\n`);
      }
    } else {
      process.stdout.write(
        `Demo data already present in ${target}: nothing to do (${describeCounts(report.existing)}).\n`,
      );
    }
    if (report.skippedOrders > 0) {
      process.stdout.write(
        `${report.skippedOrders} demo orders skipped: their market is no longer ACTIVE.\n`,
      );
    }
    process.stdout.write(
      `\nDemo accounts (demo-only credentials), email / password:\n${loginLines(report).join("\n")}\n\n` +
        "Start the server (`pnpm start`) and log in with auth.login, e.g.\n" +
        `  curl -s -X POST localhost:${config.port}/trpc/auth.login -H 'content-type: application/json' \\\n` +
        `    -d '{"json":{"email":"${report.accounts[1]?.email ?? ""}","password":"${report.accounts[1]?.password ?? ""}"}}'\n`,
    );
    return 0;
  } finally {
    await infra.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`Seeding failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
