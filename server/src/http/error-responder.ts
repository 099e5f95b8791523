import type { IncomingMessage, ServerResponse } from "node:http";
import type { ErrorRequestHandler } from "express";
import type { Logger } from "../infra/logger.js";
import { sendErrorBody } from "./error-body.js";

/** Answers an error that no handler answered: express's error handler and the listener's. */
export type ErrorResponder = (err: unknown, req: IncomingMessage, res: ServerResponse) => void;

/**
 * The answer to an error no handler answered: its status if it has one (a 4xx), else 500,
 * in our words only (a parser's message describes the parser, not the request). A 5xx is
 * logged; a response already under way is cut off.
 */
export function errorResponder(log: Logger): ErrorResponder {
  return (err, req, res) => {
    const status =
      typeof err === "object" && err !== null && "status" in err && typeof err.status === "number"
        ? err.status
        : 500;
    if (status >= 500) log.error({ err, requestId: req.requestId }, "unhandled error");
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (status === 413) sendErrorBody(res, "PAYLOAD_TOO_LARGE", 413, "Request body too large", req.requestId);
    else if (status < 500) sendErrorBody(res, "BAD_REQUEST", status, "Malformed request", req.requestId);
    else sendErrorBody(res, "INTERNAL_SERVER_ERROR", 500, "Internal server error", req.requestId);
  };
}

/** The same responder as express's last (error) handler. */
export function errorHandler(respond: ErrorResponder): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    respond(err, req, res);
  };
}
