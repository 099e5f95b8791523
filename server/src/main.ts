import cluster, { type Worker } from "node:cluster";
import { ConfigError, keepDevJwtSecret, loadConfig, type Config } from "./config.js";
import type { EmbeddedLaunch } from "./infra/database/embedded/postgres.js";
import { createLogger, type Logger } from "./infra/logger.js";
import { assertPortFree, describeStartupFailure, hostPort } from "./startup-failure.js";

let config: Config;
try {
  config = keepDevJwtSecret(loadConfig(process.env));
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`Agora could not start: ${error.message}\n`);
    process.exit(1);
  }
  throw error;
}

const baseLog = createLogger(config.logLevel);

/** One server in this process: start, serve, drain on SIGTERM/SIGINT. */
async function runServer(config: Config, log: Logger): Promise<void> {
  // Listening comes before start-up returns, so the handlers must be there first: a signal in
  // that window (a supervisor's SIGTERM) would otherwise kill the process and reset every
  // connection it had just accepted.
  let stopSignal: NodeJS.Signals | null = null;
  let stopServer: ((signal: NodeJS.Signals) => void) | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopSignal) {
      // Asked twice while still starting (a hung start-up, an impatient Ctrl-C): stop at once.
      if (!stopServer) process.exit(130);
      return;
    }
    stopSignal = signal;
    if (stopServer) stopServer(signal);
    else log.info({ signal }, "stopping once start-up has finished (send it again to stop at once)");
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  let embedded: EmbeddedLaunch | null = null;
  try {
    log.info(
      {
        database: config.database.kind === "embedded" ? (config.database.dataDir ?? ":memory:") : "postgres",
        redis: config.redis ? "redis" : "embedded",
      },
      "starting Agora",
    );
    // A port already taken is found before anything is created (an embedded database in a new
    // DATA_DIR takes seconds and would be left behind).
    if (!cluster.isWorker) await assertPortFree(config.host, config.port);
    // The embedded database opens in a thread of its own (a second or two of Wasm) while this
    // one loads the server's modules and builds the server; startServer picks it up.
    const dbConfig = config.database;
    if (dbConfig.kind === "embedded") {
      const { launchEmbeddedPostgres } = await import("./infra/database/embedded/postgres.js");
      embedded = await launchEmbeddedPostgres(dbConfig.dataDir, dbConfig.port, { log });
      // Its failure is reported where startServer awaits it.
      embedded.ready.catch(() => undefined);
    }
    // Loaded after the line above: the server's modules take seconds on a first run, which
    // would otherwise pass in silence.
    const { startServer } = await import("./server.js");
    const server = await startServer(config, {
      log,
      // Liveness answers while the database opens; a cluster worker listens once ready, as its
      // primary takes a worker that listened for one that started.
      listenBeforeReady: !cluster.isWorker,
      ...(embedded ? { embeddedDatabase: embedded } : {}),
    });
    // Say what is bound (0.0.0.0 is every interface, not a URL to open) and a URL that works.
    const wildcard = config.host === "0.0.0.0" || config.host === "::";
    const address = hostPort(config.host, server.port);
    const url = wildcard ? `http://localhost:${String(server.port)}` : server.url;
    // A first start seeds the demo marketplace (SEED_DEMO) while the server already answers;
    // readiness is announced once it is there, so the README's demo logins work from this line on.
    if (config.seedDemo) await server.demoSeeded;
    log.info(
      {
        address,
        url,
        database: config.database.kind,
        redis: config.redis ? "redis" : "embedded",
        // Since the process started: module loading included.
        startup: { ...server.startup, sinceProcessStartMs: Math.round(performance.now()) },
      },
      `Agora listening on ${address}${wildcard ? " (every interface)" : ""}: open ${url} (tRPC at /trpc)`,
    );

    stopServer = (signal) => {
      log.info({ signal }, "shutting down: draining in-flight requests");
      server.close().then(
        () => {
          log.info("shutdown complete");
          process.exit(0);
        },
        (err: unknown) => {
          log.error({ err }, "shutdown failed");
          process.exit(1);
        },
      );
    };
    // A signal that came during start-up (TypeScript cannot see the handler may have set it).
    const pending = stopSignal as NodeJS.Signals | null;
    if (pending) stopServer(pending);
  } catch (error) {
    // One line naming the cause, never a stack trace; the details are there at LOG_LEVEL=debug.
    log.debug({ err: error }, "start-up failure");
    // Closed cleanly if it was opened (stopping twice is harmless: start-up may have already).
    await embedded?.ready.then(
      (database) => database.stop(),
      () => undefined,
    );
    process.stderr.write(`Agora could not start: ${describeStartupFailure(error, config)}\n`);
    process.exit(1);
  }
}

/**
 * WEB_CONCURRENCY > 1: this process only supervises. It forks that many workers, which share
 * the port (node:cluster) and everything else through PostgreSQL and Redis (config.ts refuses
 * the embedded database and a missing Redis). A worker that dies is replaced; one that dies
 * before ever listening means the configuration cannot work, so everything stops. SIGTERM
 * drains every worker, then exits.
 */
function runPrimary(config: Config, log: Logger): void {
  // Workers must sign and verify with one secret, even a generated one.
  const env = { JWT_SECRET: config.auth.jwtSecret };
  const listening = new Set<number>();
  let stopping = false;
  let failed = false;
  const recentCrashes: number[] = [];

  const fork = (): Worker => cluster.fork(env);
  cluster.on("listening", (worker) => {
    listening.add(worker.id);
  });
  cluster.on("exit", (worker, code, signal) => {
    const wasListening = listening.delete(worker.id);
    if (!stopping) {
      const now = Date.now();
      recentCrashes.push(now);
      while (recentCrashes.length > 0 && (recentCrashes[0] ?? now) < now - 60_000) recentCrashes.shift();
      if (!wasListening || recentCrashes.length > 5) {
        log.fatal({ worker: worker.id, code, signal }, "worker failed to start or keeps crashing: stopping");
        failed = true;
        shutdown("SIGTERM");
      } else {
        log.error({ worker: worker.id, code, signal }, "worker died: starting a replacement");
        fork();
      }
    }
    if (Object.keys(cluster.workers ?? {}).length === 0 && stopping) {
      log.info("all workers stopped");
      process.exit(failed ? 1 : 0);
    }
  });
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping workers");
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);

  log.info({ workers: config.webConcurrency }, "starting workers");
  for (let i = 0; i < config.webConcurrency; i += 1) fork();
}

function warnAboutJwtSecret(config: Config, log: Logger): void {
  if (!config.auth.jwtSecretGenerated) return;
  if (config.auth.jwtSecretFile) {
    log.info(
      { file: config.auth.jwtSecretFile },
      "JWT_SECRET is not set: using the development secret kept in DATA_DIR (tokens survive restarts; production requires JWT_SECRET)",
    );
  } else {
    log.warn("JWT_SECRET is not set: using a random secret for this run (tokens will not survive a restart)");
  }
}

if (config.webConcurrency > 1 && cluster.isPrimary) {
  warnAboutJwtSecret(config, baseLog);
  runPrimary(config, baseLog);
} else {
  const log = cluster.isWorker ? baseLog.child({ worker: cluster.worker?.id }) : baseLog;
  if (cluster.isPrimary) warnAboutJwtSecret(config, log);
  await runServer(config, log);
}
