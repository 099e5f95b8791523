import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:http";
import { createApp } from "./app.js";
import type { Config } from "./config.js";
import { openDatabase, type Database } from "./infra/db.js";
import { createEventBus } from "./infra/events.js";
import { createLogger, type Logger } from "./infra/logger.js";
import { MemoryMailer, OutboxMailer, SmtpMailer, type Mailer } from "./infra/mailer.js";
import { PasswordHasher } from "./infra/passwords.js";
import { rateLimiterFactory } from "./infra/rate-limit.js";
import { connectRedis, type Redis } from "./infra/redis.js";
import { Password } from "./modules/auth/schemas.js";
import { createServices, type Infra, type Services } from "./services.js";

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly services: Services;
  readonly infra: Infra;
  /** Stops accepting connections, lets in-flight requests finish, then closes every resource. */
  close(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  mailer?: Mailer;
}

function chooseMailer(config: Config): Mailer {
  if (config.mail.smtpUrl) return new SmtpMailer(config.mail.smtpUrl, config.mail.from);
  if (config.mail.outboxDir) return new OutboxMailer(config.mail.outboxDir);
  return new MemoryMailer();
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

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const log = options.log ?? createLogger(config.logLevel);
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        log.error({ err }, "error while closing a resource");
      }
    }
  };

  try {
    const database: Database = await openDatabase(config, log);
    cleanups.push(() => database.close());
    let redis: Redis | null = null;
    if (config.redis) {
      const client = await connectRedis(config.redis.url, log);
      redis = client;
      cleanups.push(async () => {
        await client.quit();
      });
    }
    const passwords = new PasswordHasher(config.auth.bcryptCost, config.auth.passwordWorkers);
    cleanups.push(() => passwords.close());

    const events = createEventBus(redis, config.redis?.keyPrefix ?? "agora:", log);
    cleanups.push(() => events.close());

    const infra: Infra = {
      config,
      log,
      database,
      redis,
      events,
      passwords,
      mailer: options.mailer ?? chooseMailer(config),
      rateLimiter: rateLimiterFactory(redis, config.redis?.keyPrefix ?? "agora:", config.rateLimit.enabled),
    };
    const services = createServices(infra);

    if (config.admin) {
      const admin = Password.safeParse(config.admin.password);
      if (!admin.success)
        throw new Error(`ADMIN_PASSWORD: ${admin.error.issues.map((i) => i.message).join("; ")}`);
      const outcome = await services.auth.ensureAdmin(
        config.admin.email,
        config.admin.username,
        config.admin.password,
      );
      log.info({ email: config.admin.email, outcome }, "admin account ensured");
    }

    const server = createServer(createApp({ config, log, services }));
    server.keepAliveTimeout = 5_000;
    const port = await listen(server, config.host, config.port);
    const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;

    let closing: Promise<void> | null = null;
    const close = () => {
      closing ??= (async () => {
        const drained = new Promise<void>((resolve) => {
          server.close(() => {
            resolve();
          });
        });
        server.closeIdleConnections();
        // Open event streams would hold the drain until the timeout: end them now.
        await events.close();
        const timer = setTimeout(() => {
          log.warn("shutdown timeout reached: closing remaining connections");
          server.closeAllConnections();
        }, config.shutdownTimeoutMs);
        await drained;
        clearTimeout(timer);
        await cleanup();
      })();
      return closing;
    };

    return { url: `http://${host}:${port}`, port, services, infra, close };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
