import { ConfigError, loadConfig, type Config } from "./config.js";
import { createLogger } from "./infra/logger.js";
import { startServer } from "./server.js";

let config: Config;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  throw error;
}

const log = createLogger(config.logLevel);
if (config.auth.jwtSecretGenerated) {
  log.warn("JWT_SECRET is not set: using a random secret for this run (tokens will not survive a restart)");
}

try {
  const server = await startServer(config, { log });
  log.info(
    {
      url: server.url,
      database: config.database.kind,
      redis: config.redis ? "redis" : "embedded",
      // Since the process started: module loading included.
      startup: { ...server.startup, sinceProcessStartMs: Math.round(performance.now()) },
    },
    `Agora listening on ${server.url} (tRPC at /trpc)`,
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
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
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
} catch (error) {
  log.fatal({ err: error }, "server failed to start");
  process.exit(1);
}
