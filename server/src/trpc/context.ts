import type { Services } from "../services.js";

/**
 * What every procedure receives. Built per request by the HTTP layer; nothing here is
 * express-specific, so procedures can also be called in-process (the OpenAPI layer, tests).
 */
export interface Context {
  services: Services;
  requestId: string;
  ip: string;
  credentials: { bearer: string | null; apiKey: string | null };
  setHeader(name: string, value: string): void;
}
