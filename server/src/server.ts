import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:http";
import { createApp } from "./app.js";
import type { Config } from "./config.js";
import { createInfra, type Infra } from "./infra.js";
import { createLogger, type Logger } from "./infra/logger.js";
import type { Mailer } from "./infra/mailer.js";
import { defineJobs } from "./jobs.js";
import type { EmbeddedLaunch } from "./infra/database/embedded/postgres.js";
import { StartupError } from "./infra/startup-error.js";
import { ConflictError } from "./shared/errors.js";
import { Password } from "./modules/auth/schemas.js";
import { Username } from "./modules/users/schemas.js";
import { seedDemoOnFirstStart } from "./seed/demo.js";
import { watchSessionChanges } from "./modules/auth/stream-watch.js";
import { createServices, type Services } from "./services.js";

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly services: Services;
  readonly infra: Infra;
  /** Settles once SEED_DEMO's seeding (done in the background after listening) has finished. */
  readonly demoSeeded: Promise<void>;
  /** Milliseconds each start-up step took, for the start-up log line. */
  readonly startup: Record<string, number>;
  /** Stops accepting connections, lets in-flight requests finish, then closes every resource. */
  close(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  mailer?: Mailer;
  /** The embedded database, already starting (main.ts starts it before loading this module). */
  embeddedDatabase?: EmbeddedLaunch;
}

async function listen(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** ADMIN_PASSWORD and ADMIN_USERNAME follow the account rules: checked before anything starts. */
function checkAdmin(config: Config): void {
  if (!config.admin) return;
  for (const [name, schema, value] of [
    ["ADMIN_PASSWORD", Password, config.admin.password],
    ["ADMIN_USERNAME", Username, config.admin.username],
  ] as const) {
    const parsed = schema.safeParse(value);
    if (!parsed.success)
      throw new StartupError(
        `invalid configuration: ${name}: ${parsed.error.issues.map((i) => i.message).join("; ")}`,
      );
  }
}

async function ensureAdmin(config: Config, services: Services, log: Logger): Promise<void> {
  if (!config.admin) return;
  let outcome: Awaited<ReturnType<Services["auth"]["ensureAdmin"]>>;
  try {
    outcome = await services.auth.ensureAdmin(
      config.admin.email,
      config.admin.username,
      config.admin.password,
    );
  } catch (error) {
    // The configured admin cannot exist as asked: the operator's to fix, said in one line.
    if (error instanceof ConflictError) throw new StartupError(error.message);
    throw error;
  }
  log.info({ email: config.admin.email, outcome }, "admin account ensured");
}

/**
 * createInfra → createServices → createApp, all before the database is open (nothing they do
 * needs it, and the embedded one takes a second or two to open, in a thread of its own); then
 * the database is opened and migrated, the job queues prepared, and the server listens.
 * `close` drains in the reverse order.
 */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const log = options.log ?? createLogger(config.logLevel);
  const startup: Record<string, number> = {};
  let mark = performance.now();
  const step = (name: string) => {
    const now = performance.now();
    startup[name] = Math.round(now - mark);
    mark = now;
  };
  checkAdmin(config);
  const infra = await createInfra(config, {
    log,
    ...(options.mailer ? { mailer: options.mailer } : {}),
    ...(options.embeddedDatabase ? { embeddedDatabase: options.embeddedDatabase } : {}),
  });
  const watching = new AbortController();
  try {
    const services = createServices(infra);
    defineJobs(services, config, log);
    const app = createApp({ config, log, services });
    step("buildMs");
    await infra.database.open();
    step("databaseMs");
    log.info("preparing the job queue");
    await infra.jobs.startQueues();
    step("jobsMs");
    await ensureAdmin(config, services, log);
    step("adminMs");

    // Open event streams end when their session is revoked, whichever instance revoked it.
    const sessionWatch = watchSessionChanges(
      { events: services.sessionEvents, streams: services.streams, auth: services.auth, log },
      watching.signal,
    );

    const server = createServer(app.listener);
    server.keepAliveTimeout = 5_000;
    // Past this many sockets, new connections are closed at once: a flood of connections or
    // event streams cannot take the process to its file-descriptor limit.
    server.maxConnections = config.httpMaxConnections;
    const port = await listen(server, config.host, config.port);
    const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
    // What the app builds on first use is built now, while it already serves.
    app.preload().catch((err: unknown) => {
      log.error({ err }, "the REST surface could not be built");
    });
    // Workers and pg-boss's scheduler start while the server already serves (jobs.ts says why).
    infra.jobs.startWorkers().then(
      () => {
        log.debug("job workers started");
      },
      (err: unknown) => {
        log.error({ err }, "job workers could not start");
      },
    );
    // Demo data (SEED_DEMO) is written while the server already serves: a newcomer's first
    // start answers at once, and the marketplace fills in a moment later.
    const demoSeeded = seedDemoOnFirstStart({ config, log, services, db: infra.database.prisma }).catch(
      (err: unknown) => {
        log.error({ err }, "demo data could not be seeded");
      },
    );

    let closing: Promise<void> | null = null;
    const close = () => {
      closing ??= (async () => {
        // /readyz fails first; calls are served for SHUTDOWN_DELAY_MS while load balancers
        // notice, so connections opened just before the signal are answered, not reset.
        services.health.beginDraining();
        if (config.shutdownDelayMs > 0) {
          log.info({ delayMs: config.shutdownDelayMs }, "draining: /readyz answers 503, still serving");
          await new Promise((resolve) => setTimeout(resolve, config.shutdownDelayMs));
        }
        const drained = new Promise<void>((resolve) => {
          server.close(() => {
            resolve();
          });
        });
        server.closeIdleConnections();
        // Open event streams would hold the drain until the timeout: end them now.
        watching.abort();
        await infra.events.close();
        await sessionWatch;
        const timer = setTimeout(() => {
          log.warn("shutdown timeout reached: closing remaining connections");
          server.closeAllConnections();
        }, config.shutdownTimeoutMs);
        await drained;
        clearTimeout(timer);
        await demoSeeded;
        await infra.close();
      })();
      return closing;
    };

    step("listenMs");
    return { url: `http://${host}:${port}`, port, services, infra, startup, demoSeeded, close };
  } catch (error) {
    watching.abort();
    await infra.close();
    throw error;
  }
}
