import { trpcGet, trpcPost } from "../scenarios.js";
import type { HttpRequest } from "../wrk.js";
import type { Stats } from "./stats.js";

/** A call taking longer than this counts as a transport failure (TIMEOUT). */
export const CALL_TIMEOUT_MS = 15_000;

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

/** `value.a.b.c` when every step is an object, else undefined. */
export function dig(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (!isRecord(current)) return undefined;
    current = current[key];
  }
  return current;
}

export function digString(value: unknown, ...path: string[]): string | null {
  const v = dig(value, ...path);
  return typeof v === "string" ? v : null;
}

/** The code of a tRPC error body (`{ error: { json: { data: { code } } } }`), if it is one. */
export function trpcErrorCode(body: unknown): string | null {
  return digString(body, "error", "json", "data", "code");
}

/** What an undici `fetch` failure was: TIMEOUT, or the socket error's code (ECONNRESET, ...). */
export function transportCode(error: unknown): string {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError"))
    return "TIMEOUT";
  const cause = error instanceof Error ? error.cause : undefined;
  const code = dig(cause, "code");
  return typeof code === "string" ? code : "NETWORK";
}

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

export interface CallOptions {
  token?: string | null;
  /** The error code this call is meant to get (a deliberately bad call); success is then an error. */
  expect?: string;
}

/**
 * tRPC over HTTP as the SDK sends it (superjson `{ json }`), one call per request, each timed
 * and recorded. Calls come from a spread of client addresses (X-Forwarded-For; the server runs
 * with TRUST_PROXY=1) so the per-IP rate limit stays on, as in production, without one
 * address exhausting it.
 */
export class SoakClient {
  private nextIp = 0;

  constructor(
    readonly url: string,
    private readonly stats: Stats,
    private readonly addresses = 1_000,
  ) {}

  clientIp(): string {
    const i = this.nextIp++ % this.addresses;
    return `10.77.${Math.floor(i / 250)}.${(i % 250) + 1}`;
  }

  headers(token: string | null | undefined): Record<string, string> {
    return {
      "X-Forwarded-For": this.clientIp(),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    };
  }

  query(op: string, input: unknown, options: CallOptions = {}): Promise<unknown> {
    return this.send(op, trpcGet(op, input, this.headers(options.token)), options.expect);
  }

  mutation(op: string, input: unknown, options: CallOptions = {}): Promise<unknown> {
    return this.send(op, trpcPost(op, input, this.headers(options.token)), options.expect);
  }

  /** The call's `result.data.json` on success; null on any error (which is recorded). */
  private async send(op: string, request: HttpRequest, expect: string | undefined): Promise<unknown> {
    const started = performance.now();
    let status: number;
    let text: string;
    try {
      const res = await fetch(`${this.url}${request.path}`, {
        method: request.method,
        ...(request.headers ? { headers: request.headers } : {}),
        ...(request.body !== undefined ? { body: request.body } : {}),
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      });
      status = res.status;
      text = await res.text();
    } catch (error) {
      this.stats.record(op, performance.now() - started, {
        kind: "error",
        code: transportCode(error),
        status: null,
        detail: describe(error),
      });
      return null;
    }
    const elapsed = performance.now() - started;
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: reported below with the text
    }
    if (status >= 200 && status < 300) {
      if (expect) {
        this.stats.record(op, elapsed, {
          kind: "error",
          code: `OK instead of ${expect}`,
          status,
          detail: text.slice(0, 300),
        });
        return null;
      }
      this.stats.record(op, elapsed, { kind: "ok" });
      return dig(body, "result", "data", "json");
    }
    const code = trpcErrorCode(body) ?? `HTTP_${status}`;
    if (expect && code === expect && status < 500) {
      this.stats.record(op, elapsed, { kind: "expected", code });
    } else {
      this.stats.record(op, elapsed, { kind: "error", code, status, detail: text.slice(0, 300) });
    }
    return null;
  }
}
