import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Services } from "../services.js";
import "../shared/request-id.js";

/**
 * What every procedure receives. Built per request by the HTTP layer; nothing here is
 * express-specific, so procedures can also be called in-process (the OpenAPI layer, tests).
 */
export interface Context {
  services: Services;
  requestId: string;
  ip: string;
  /**
   * What the caller sent to identify itself. `ticket` (a subscription ticket, from
   * `auth.subscriptionTicket`) comes only as a connection param and counts only for subscriptions.
   */
  credentials: { bearer: string | null; apiKey: string | null; ticket?: string | null };
  setHeader(name: string, value: string): void;
  /**
   * Set once the request has been counted against the global per-IP rate limit before its
   * procedure ran (REST counts before reading the body): the procedure does not count it again.
   */
  globalLimitCounted?: boolean;
}

/**
 * The access token of a request's `Authorization: Bearer <token>` header (the scheme in any
 * case, as RFC 9110 has it); null when there is none or it is another scheme. A Bearer header
 * that holds no token or several, and a request with several Authorization headers (Node
 * would keep the first, a proxy might have checked another), give "": credentials were sent,
 * and none is valid.
 */
function bearerToken(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  if (header === undefined) return null;
  let count = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]?.toLowerCase() === "authorization") count += 1;
  }
  if (count > 1) return "";
  if (!/^Bearer(\s|$)/i.test(header)) return null;
  return /^Bearer\s+(\S+)$/i.exec(header)?.[1] ?? "";
}

/** An X-Api-Key header; an empty one counts as none. */
function apiKeyHeader(req: IncomingMessage): string | null {
  const value = req.headers["x-api-key"];
  return typeof value === "string" && value !== "" ? value : null;
}

function stringParam(params: Partial<Record<string, string>> | null | undefined, key: string): string | null {
  const value = params?.[key];
  return typeof value === "string" && value.length > 0 ? value : null;
}

/** Connection params as tRPC hands them over (subscriptions over SSE send credentials there). */
export type ConnectionParams = Partial<Record<string, string>> | null;

/**
 * The context of one HTTP request: the caller's credentials as sent (EventSource cannot send
 * headers, so subscriptions may pass them as connection params), its id and address.
 */
export function contextFactory(
  services: Services,
  clientIp: (req: IncomingMessage) => string,
): (req: IncomingMessage, res: ServerResponse, connectionParams: ConnectionParams) => Context {
  return (req, res, connectionParams) =>
    contextFor(services, {
      requestId: req.requestId ?? randomUUID(),
      ip: clientIp(req),
      credentials: {
        bearer: bearerToken(req) ?? stringParam(connectionParams, "token"),
        apiKey: apiKeyHeader(req) ?? stringParam(connectionParams, "apiKey"),
        // A single-use subscription ticket keeps the access token out of the stream's URL.
        ticket: stringParam(connectionParams, "ticket"),
      },
      setHeader: (name, value) => {
        if (!res.headersSent) res.setHeader(name, value);
      },
    });
}

/**
 * A context without a request (tRPC's `createContextInner`): for calling procedures in-process
 * and in tests. By default an anonymous caller from 127.0.0.1 whose headers go nowhere.
 */
export function contextFor(services: Services, call: Partial<Omit<Context, "services">> = {}): Context {
  return {
    services,
    requestId: call.requestId ?? randomUUID(),
    ip: call.ip ?? "127.0.0.1",
    credentials: call.credentials ?? { bearer: null, apiKey: null, ticket: null },
    setHeader: call.setHeader ?? (() => undefined),
    ...(call.globalLimitCounted === undefined ? {} : { globalLimitCounted: call.globalLimitCounted }),
  };
}
