import type { AddressInfo } from "node:net";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createApp } from "./app.js";
import { sendErrorBody } from "./http/error-body.js";
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
import { loadJose } from "./modules/auth/tokens.js";
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
  /**
   * Listen as soon as the app is built, while the database opens, migrates and the job queue
   * is prepared: liveness (`health.live`, `/healthz`) answers at once, every other request
   * waits for start-up to finish (see `holdUntilStarted`). Off by default: a start-up that
   * fails then has had the port for a moment, and node:cluster's primary counts a worker that
   * listened as started (main.ts sets it outside cluster workers).
   */
  listenBeforeReady?: boolean;
}

/** Paths answered while start-up is still under way: they need nothing but the process. */
const LIVENESS_PATHS = new Set(["/trpc/health.live", "/healthz"]);

/**
 * The request listener while start-up is still under way: liveness is answered at once,
 * anything else (readiness included: it answers once it can say something true) waits for
 * start-up and is then served as usual, or answered 503 if start-up failed.
 */
function holdUntilStarted(
  listener: (req: IncomingMessage, res: ServerResponse) => void,
  started: Promise<void>,
): (req: IncomingMessage, res: ServerResponse) => void {
  let open = false;
  started.then(
    () => {
      open = true;
    },
    () => undefined,
  );
  return (req, res) => {
    if (open || LIVENESS_PATHS.has((req.url ?? "").split("?", 1)[0] ?? "")) {
      listener(req, res);
      return;
    }
    started.then(
      () => {
        listener(req, res);
      },
      () => {
        res.setHeader("connection", "close");
        sendErrorBody(res, "SERVICE_UNAVAILABLE", 503, "The server could not start", undefined);
      },
    );
  };
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
 * the database is opened and migrated, the job queues prepared, and the server listens (with
 * `listenBeforeReady`, it listens first and holds all but liveness until then). It returns once
 * all of that is done. `close` drains in the reverse order.
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
  /** The HTTP server once created: a start-up that fails after listening closes it. */
  let listening: Server | null = null;
  try {
    const services = createServices(infra);
    defineJobs(services, config, log);
    const app = createApp({ config, log, services });
    step("buildMs");
    const prepare = async () => {
      await infra.database.open();
      step("databaseMs");
      log.info("preparing the job queue");
      await infra.jobs.startQueues();
      step("jobsMs");
      await ensureAdmin(config, services, log);
      step("adminMs");
    };
    const httpServer = (listener: (req: IncomingMessage, res: ServerResponse) => void): Server => {
      const created = createServer(listener);
      created.keepAliveTimeout = 5_000;
      // Past this many sockets, new connections are closed at once: a flood of connections or
      // event streams cannot take the process to its file-descriptor limit.
      created.maxConnections = config.httpMaxConnections;
      return created;
    };
    let prepared: Promise<void> | null = null;
    if (options.listenBeforeReady) {
      prepared = prepare();
      // Its failure is thrown by the await below (the held requests answer 503).
      prepared.catch(() => undefined);
    } else {
      await prepare();
    }
    const server = httpServer(prepared ? holdUntilStarted(app.listener, prepared) : app.listener);
    listening = server;
    const port = await listen(server, config.host, config.port);
    step("listenMs");
    await prepared;

    // Open event streams end when their session is revoked, whichever instance revoked it.
    const sessionWatch = watchSessionChanges(
      { events: services.sessionEvents, streams: services.streams, auth: services.auth, log },
      watching.signal,
    );

    const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
    // What the app builds on first use is built now, while it already serves.
    app.preload().catch((err: unknown) => {
      log.error({ err }, "the REST surface could not be built");
    });
    loadJose().catch((err: unknown) => {
      log.error({ err }, "the access-token library (jose) could not be loaded");
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

    return { url: `http://${host}:${port}`, port, services, infra, startup, demoSeeded, close };
  } catch (error) {
    watching.abort();
    const opened = listening;
    if (opened?.listening) {
      await new Promise<void>((resolve) => {
        opened.close(() => {
          resolve();
        });
        opened.closeAllConnections();
      });
    }
    await infra.close();
    throw error;
  }
}
