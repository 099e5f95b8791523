import { randomUUID } from "node:crypto";
import { IncomingMessage, ServerResponse } from "node:http";
import { Socket } from "node:net";
import compression from "compression";
import cors from "cors";
import helmet from "helmet";
import responseTime from "response-time";
import vary from "vary";
import type { Logger } from "../infra/logger.js";

import "../shared/request-id.js";

export interface FrontOptions {
  log: Logger;
  corsOrigins: readonly string[];
  /** True once the process is shutting down: answers then close their connection. */
  draining: () => boolean;
  /** `Server-Timing`: to 0.1 ms, rounded to 100 ms (production's default), or not sent. */
  serverTiming?: "exact" | "coarse" | "off";
}

/** The `Server-Timing` value of a request that took `ms`, or null when none is sent. */
function timingValue(ms: number, mode: "exact" | "coarse" | "off"): string | null {
  if (mode === "off") return null;
  // Coarse: the few milliseconds a database lookup adds (an account that exists, say) do not show.
  return `app;dur=${mode === "coarse" ? String(Math.round(ms / 100) * 100) : ms.toFixed(1)}`;
}

const MAX_REFUSED_ORIGINS_LOGGED = 256;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * The headers a middleware sets on a request that has no headers at all, found by running
 * it once at start-up on a detached request and response. For middleware whose headers do
 * not depend on the request (helmet; cors when no Origin is sent), setting the result is
 * the same as running it, at a fraction of the cost. tests/http.test.ts pins the headers.
 */
function staticHeaders(middleware: Middleware): ReadonlyArray<readonly [string, string | number | string[]]> {
  const req = new IncomingMessage(new Socket());
  req.method = "GET";
  req.url = "/";
  const res = new ServerResponse(req);
  const outcome = { passed: false };
  middleware(req, res, (err) => {
    outcome.passed = err === undefined;
  });
  if (!outcome.passed) throw new Error("A header middleware did not pass a plain GET request on at once");
  return res.getHeaderNames().flatMap((name) => {
    const value = res.getHeader(name);
    return value === undefined ? [] : [[name, value] as const];
  });
}

/**
 * The access log: one line per request when its response has been sent (or the connection
 * closed first), at info, warn for 4xx and error for 5xx. Only what is needed to trace a
 * request: never headers or the query string, which can carry credentials. Written with pino
 * directly: pino-http built two child loggers per request (each serialising and redacting the
 * request), which cost a third of a trivial call's time (bench/, bench/README.md).
 */
function logRequest(log: Logger, req: IncomingMessage, res: ServerResponse, started: number): void {
  const status = res.statusCode;
  // express rewrites req.url under a mount path and keeps the request's own in originalUrl.
  const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? "";
  const q = url.indexOf("?");
  const line = {
    req: { id: req.requestId, method: req.method, url: q < 0 ? url : url.slice(0, q) },
    res: { statusCode: status },
    responseTime: Math.round(performance.now() - started),
    ...(res.writableFinished ? {} : { aborted: true }),
  };
  if (status >= 500) log.error(line, "request failed");
  else if (status >= 400) log.warn(line, "request completed");
  else log.info(line, "request completed");
}

/**
 * Everything every request passes through before routing, as one middleware: the request
 * id (X-Request-Id, taken from the client when well-formed), the access log line, Server-Timing,
 * helmet's security headers, CORS, and gzip for clients that accept it.
 *
 * Measured (bench/, bench/README.md): as five express middleware these were a fifth of a
 * trivial call's time. Here helmet's headers, which never depend on the request, are computed
 * once at start-up; cors runs only for requests that send an Origin (or preflights), the others
 * get the headers it would have set; compression wraps only responses to clients that accept
 * an encoding; the access line listens for `close` alone (it follows `finish` too).
 */
export function frontMiddleware({
  log,
  corsOrigins,
  draining,
  serverTiming = "exact",
}: FrontOptions): Middleware {
  // The access line holds only the fields logRequest picks (no headers, no query string, no
  // body), so it skips the logger's redaction, which walked every line for credential paths.
  const accessLog = log.child({}, { redact: [] });
  const security = staticHeaders(
    helmet({
      // Set by each page (http/docs.ts, pagePolicy); the API itself serves JSON.
      contentSecurityPolicy: false,
    }),
  );
  const exposedHeaders = ["X-Request-Id", "Server-Timing", "Retry-After"];
  // "*": any origin may read answers, as the literal `*`, which browsers never combine with
  // credentials (cookies, TLS client certificates; a bearer token is a header and still goes).
  // Otherwise the listed origins only, echoed, with credentials.
  // A refused origin is logged once (a few hundred at most: the header is the client's to write),
  // with what would allow it: a developer otherwise sees only the browser's console error.
  const refusedOrigins = new Set<string>();
  const noteRefused = (origin: string) => {
    if (refusedOrigins.has(origin) || refusedOrigins.size >= MAX_REFUSED_ORIGINS_LOGGED) return;
    refusedOrigins.add(origin);
    log.warn(
      { origin, allowed: corsOrigins },
      `CORS: refused a browser call from ${JSON.stringify(origin.slice(0, 200))}: add it to CORS_ORIGINS (comma-separated, matched exactly: scheme, host and port; http://localhost:5173 and http://127.0.0.1:5173 are different origins) to allow it`,
    );
  };
  const corsHandler = corsOrigins.includes("*")
    ? cors({ origin: "*", credentials: false, exposedHeaders })
    : cors({
        origin: (origin, cb) => {
          const allowed = origin === undefined || corsOrigins.includes(origin);
          if (!allowed) noteRefused(origin);
          cb(null, allowed);
        },
        credentials: true,
        exposedHeaders,
      });
  const corsWithoutOrigin = staticHeaders(corsHandler);
  const timing = responseTime((_req, res, ms) => {
    const value = timingValue(ms, serverTiming);
    if (value !== null) res.setHeader("Server-Timing", value);
    // The CORS answer depends on Origin. cors says so, but tRPC's adapter (and ours, which
    // answers as it does) sets its own Vary, replacing cors's.
    vary(res, "Origin");
  });
  // compression is typed as express middleware but reads only what Node's request and
  // response have (headers, getHeader/setHeader, write/end), so it serves both paths.
  const gzip = compression({
    // Server-sent events must reach the client as they happen, not when a gzip block fills.
    filter: (req, res) =>
      !(req.headers.accept ?? "").includes("text/event-stream") &&
      !String(res.getHeader("Content-Type") ?? "").includes("text/event-stream") &&
      compression.filter(req, res),
  }) as unknown as Middleware;

  return (req, res, next) => {
    // A request the server's listener already took through here (see app.ts) passes on.
    if (req.requestId !== undefined) {
      next();
      return;
    }
    const started = performance.now();
    if (draining()) res.setHeader("Connection", "close");
    const incoming = req.headers["x-request-id"];
    const id = typeof incoming === "string" && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.requestId = id;
    res.setHeader("X-Request-Id", id);
    res.once("close", () => {
      logRequest(accessLog, req, res, started);
    });
    for (const [name, value] of security) res.setHeader(name, value);

    const encode = (err?: unknown) => {
      if (err !== undefined) next(err);
      else if (req.headers["accept-encoding"]) gzip(req, res, next);
      else next();
    };
    timing(req, res, () => {
      if (req.headers.origin !== undefined || req.method === "OPTIONS") {
        corsHandler(req, res, encode);
        return;
      }
      for (const [name, value] of corsWithoutOrigin) res.setHeader(name, value);
      encode();
    });
  };
}
