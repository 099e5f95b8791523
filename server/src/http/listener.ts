import type { IncomingMessage, ServerResponse } from "node:http";
import type { ErrorResponder } from "./error-responder.js";
import type { Middleware } from "./front.js";

export interface ListenerParts {
  /** The express app: every request the fast path does not take, or passes on. */
  app: (req: IncomingMessage, res: ServerResponse) => void;
  /** The front middleware (request id, access log, headers, CORS), run before the fast handler. */
  front: Middleware;
  /** The fast /trpc handler, or null when tRPC's adapter serves every /trpc call. */
  fast: Middleware | null;
  /** Requests under this prefix go to `fast`. */
  prefix: string;
  respondError: ErrorResponder;
}

/**
 * The HTTP server's request listener (`createServer(listener)`). A call under `prefix` goes
 * through the front middleware and the fast handler directly, without express's request
 * set-up and router (a quarter of a trivial call's time: bench/README.md); whatever that
 * handler passes on, and every other path, is express's.
 */
export function createListener({
  app,
  front,
  fast,
  prefix,
  respondError,
}: ListenerParts): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (!fast || !req.url?.startsWith(prefix)) {
      app(req, res);
      return;
    }
    // What express does for its middleware: a throw becomes an error answer, not an
    // exception that ends the process. As in express, next(null) passes the request on like
    // next() (cors does so).
    try {
      front(req, res, (err) => {
        if (err !== undefined && err !== null) {
          respondError(err, req, res);
          return;
        }
        fast(req, res, (passed) => {
          // The front middleware lets a request it has seen through, so express picks up here.
          if (passed === undefined || passed === null) app(req, res);
          else respondError(passed, req, res);
        });
      });
    } catch (err) {
      respondError(err, req, res);
    }
  };
}
