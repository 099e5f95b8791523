import type { Services } from "../services.js";

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
