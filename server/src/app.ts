import type { IncomingMessage, ServerResponse } from "node:http";
import * as trpcExpress from "@trpc/server/adapters/express";
import express, { type Express } from "express";
import proxyAddr from "proxy-addr";
import type { Config } from "./config.js";
import { sendErrorBody } from "./http/error-body.js";
import { errorHandler, errorResponder } from "./http/error-responder.js";
import { frontMiddleware } from "./http/front.js";
import { homeRouter } from "./http/home.js";
import { docsRouter, resetPasswordRouter } from "./http/docs.js";
import { metricsHandler } from "./http/metrics.js";
import { panelRouter } from "./http/panel.js";
import { lazyHandler, REST_BASE_PATH } from "./http/lazy.js";
import { createListener } from "./http/listener.js";
import { procedureErrorLogger } from "./http/procedure-errors.js";
import { fastTrpcHandler, trpcJsonGuard } from "./http/trpc-fast/handler.js";
import type { Logger } from "./infra/logger.js";
import { appRouter } from "./router.js";
import type { Services } from "./services.js";
import { contextFactory, type Context } from "./trpc/context.js";

export const MAX_BODY_BYTES = 1024 * 1024;
export const MAX_BATCH_SIZE = 50;

/**
 * proxy-addr's trust function for TRUST_PROXY: the first `n` hops (the socket's address is hop
 * 0), or the hops whose address is in the list. proxy-addr walks X-Forwarded-For from the right
 * and stops at the first untrusted hop: that address is the client, whatever the client wrote
 * to the left of it.
 */
export function proxyTrust(setting: number | readonly string[]): (addr: string, hop: number) => boolean {
  if (typeof setting === "number") return (_addr, hop) => hop < setting;
  return proxyAddr.compile([...setting]);
}

export interface AppDeps {
  config: Config;
  log: Logger;
  services: Services;
}

/** Builds the express app from its dependencies; no globals, so tests can build many. */
export interface AppOptions {
  /**
   * "official": serve every /trpc call with tRPC's express adapter. By default (the config's
   * TRPC_ADAPTER, "fast") `listener` has the fast handler serve plain queries and mutations
   * and hand the rest to that adapter; tests set it to compare the two over one set of services.
   */
  trpcAdapter?: "fast" | "official";
}

export interface AgoraApp extends Express {
  /**
   * Builds what the app builds on first use (the REST surface and its
   * dependencies, 0.2 s): call it once listening, so that it is ready before anyone asks.
   */
  preload(): Promise<void>;
  /**
   * The HTTP server's request listener (`createServer(app.listener)`). A `/trpc/` call goes
   * through the front middleware and the fast tRPC handler directly, without express's
   * request set-up and router (a quarter of a trivial call's time: bench/README.md);
   * whatever that handler passes on, and every other path, is express's. The express app on
   * its own (`createServer(app)`) serves /trpc with tRPC's express adapter only.
   */
  listener: (req: IncomingMessage, res: ServerResponse) => void;
}

const TRPC_BASE_PATH = "/trpc";

export function createApp({ config, log, services }: AppDeps, options: AppOptions = {}): AgoraApp {
  const app = express();
  app.disable("x-powered-by");
  // express's req.ip and ours (below, for requests express never sees) use the same function.
  const trust = proxyTrust(config.trustProxy);
  app.set("trust proxy", trust);

  const front = frontMiddleware({
    log,
    corsOrigins: config.corsOrigins,
    draining: () => services.health.draining,
    serverTiming: config.serverTiming,
  });
  app.use(front);

  // The client's address as express's req.ip gives it, for requests express has not seen.
  const clientIp = (req: IncomingMessage): string =>
    req.socket.remoteAddress === undefined ? "unknown" : proxyAddr(req, trust);

  const createContext = contextFactory(services, clientIp);
  const onProcedureError = procedureErrorLogger(log);
  const officialAdapter = trpcExpress.createExpressMiddleware({
    router: appRouter,
    maxBodySize: MAX_BODY_BYTES,
    maxBatchSize: MAX_BATCH_SIZE,
    createContext: ({ req, res, info }): Context => createContext(req, res, info.connectionParams),
    onError: onProcedureError,
  });
  const adapter = options.trpcAdapter ?? config.trpcAdapter;
  if (adapter === "official" && options.trpcAdapter === undefined) {
    log.warn({ trpcAdapter: adapter }, "TRPC_ADAPTER=official: tRPC's own adapter answers every /trpc call");
  }
  const fast =
    adapter === "official"
      ? null
      : fastTrpcHandler({
          router: appRouter,
          basePath: TRPC_BASE_PATH,
          maxBodySize: MAX_BODY_BYTES,
          maxBatchSize: MAX_BATCH_SIZE,
          createContext: (req, res) => createContext(req, res, null),
          onError: ({ error, path, ctx }) => {
            onProcedureError({ error, path, ...(ctx ? { ctx } : {}) });
          },
        });
  // Whatever the fast handler passes on (subscriptions, streaming, other content types), and
  // every /trpc call of an app served without its listener; JSON nested too deeply never
  // reaches its parser.
  app.use(
    TRPC_BASE_PATH,
    trpcJsonGuard({
      router: appRouter,
      maxBodySize: MAX_BODY_BYTES,
      createContext: (req, res) => createContext(req, res, null),
    }),
    officialAdapter,
  );

  const rest = lazyHandler(async () =>
    (await import("./http/rest.js")).restRouter({
      maxBodySize: MAX_BODY_BYTES,
      createContext: (req, res) => createContext(req, res, null),
      onError: onProcedureError,
    }),
  );
  app.use(REST_BASE_PATH, rest);
  if (config.docsEnabled) app.use(docsRouter());
  if (config.panelEnabled) app.use(panelRouter());
  app.use(resetPasswordRouter());
  app.use(homeRouter(config));

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", async (_req, res) => {
    if (services.health.draining) {
      res.status(503).json({ status: "draining" });
      return;
    }
    const readiness = await services.health.readiness();
    res.status(readiness.status === "ok" ? 200 : 503).json(readiness);
  });

  app.get("/metrics", metricsHandler(config, services.metrics));

  app.use((req, res) => {
    sendErrorBody(res, "NOT_FOUND", 404, "No such route", req.requestId);
  });

  const respondError = errorResponder(log);
  app.use(errorHandler(respondError));

  const listener = createListener({ app, front, fast, prefix: `${TRPC_BASE_PATH}/`, respondError });

  return Object.assign(app, {
    preload: async () => {
      await rest.load();
    },
    listener,
  });
}
