import { trpcGet } from "../scenarios.js";
import { sleep } from "../procs.js";
import { dig, transportCode, type SoakClient } from "./client.js";
import type { Stats } from "./stats.js";

const OP = "markets.onEvent";
const RETRY_MS = 1_000;

/**
 * One live `markets.onEvent` stream (tRPC's SSE format, read with plain fetch): counts the
 * events it receives, remembers the last id, and when reopened resumes from it (`lastEventId`),
 * as the SDK does after a reconnect. A stream that breaks or ends while it should be open is
 * an error, and is opened again.
 */
export class Subscription {
  private controller: AbortController | null = null;
  private loop: Promise<void> = Promise.resolve();
  private lastEventId: string | null = null;
  private closed = false;
  /** The id of the last event, as numbers: each next one must be greater (no repeats, in order). */
  private lastId: [number, number] | null = null;
  /** Set at the first `connected`: from then on every event of the market must reach it. */
  established = false;
  events = 0;
  /** Events the load saw committed on this market since the stream was established. */
  expected = 0;
  opens = 0;

  constructor(
    private readonly client: SoakClient,
    private readonly stats: Stats,
    readonly marketId: string,
    private readonly token: string | null,
  ) {}

  open(): void {
    if (this.closed) return;
    const controller = new AbortController();
    this.controller = controller;
    this.loop = this.keepOpen(controller.signal);
  }

  /** Closes the stream as a client going away would, then opens it again from the last event. */
  async reopen(): Promise<void> {
    this.controller?.abort();
    await this.loop;
    this.open();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.controller?.abort();
    await this.loop;
  }

  private async keepOpen(signal: AbortSignal): Promise<void> {
    const aborted = () => signal.aborted;
    while (!aborted()) {
      await this.stream(signal);
      if (!aborted()) await sleep(RETRY_MS);
    }
  }

  private error(code: string, status: number | null, detail: string): void {
    this.stats.recordError(OP, { kind: "error", code, status, detail });
  }

  /** One connection, until it ends or `signal` aborts it. */
  private async stream(signal: AbortSignal): Promise<void> {
    const input = { marketId: this.marketId, ...(this.lastEventId ? { lastEventId: this.lastEventId } : {}) };
    const request = trpcGet(OP, input, { ...this.client.headers(this.token), Accept: "text/event-stream" });
    const started = performance.now();
    let failed = false;
    try {
      const res = await fetch(`${this.client.url}${request.path}`, {
        ...(request.headers ? { headers: request.headers } : {}),
        signal,
      });
      this.opens += 1;
      if (res.status !== 200 || !res.body) {
        this.error(`HTTP_${res.status}`, res.status, (await res.text()).slice(0, 300));
        return;
      }
      const decoder = new TextDecoder();
      let buffer = "";
      const reader = res.body.getReader();
      for (let read = await reader.read(); !read.done; read = await reader.read()) {
        const chunk: unknown = read.value;
        if (chunk instanceof Uint8Array) buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (this.handle(block, started) === "failed") failed = true;
        }
      }
      if (!signal.aborted && !failed) this.error("SSE_ENDED", 200, "the event stream ended while open");
    } catch (error) {
      if (signal.aborted) return;
      this.error(transportCode(error), null, error instanceof Error ? error.message : String(error));
    }
  }

  private handle(block: string, started: number): "ok" | "failed" {
    let event = "message";
    let id: string | null = null;
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "id") id = value;
      else if (field === "data") data.push(value);
    }
    if (event === "connected") {
      this.established = true;
      this.stats.record(OP, performance.now() - started, { kind: "ok" });
      return "ok";
    }
    if (event === "ping") return "ok";
    if (event === "serialized-error") {
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(data.join("\n"));
      } catch {
        // reported as is
      }
      const code = dig(parsed, "json", "data", "code");
      const status = dig(parsed, "json", "data", "httpStatus");
      this.error(
        typeof code === "string" ? code : "SSE_ERROR",
        typeof status === "number" ? status : 200,
        data.join("\n").slice(0, 300),
      );
      return "failed";
    }
    if (event === "return") {
      this.error("SSE_RETURN", 200, "the server ended the subscription");
      return "failed";
    }
    if (data.length === 0) return "ok";
    try {
      JSON.parse(data.join("\n"));
    } catch {
      this.error("BAD_EVENT", 200, data.join("\n").slice(0, 300));
      return "ok";
    }
    if (id) {
      const parts = /^(\d+)-(\d+)$/.exec(id);
      const next: [number, number] | null = parts ? [Number(parts[1]), Number(parts[2])] : null;
      const previous = this.lastId;
      if (
        next &&
        previous &&
        (next[0] < previous[0] || (next[0] === previous[0] && next[1] <= previous[1]))
      ) {
        this.error("SSE_OUT_OF_ORDER", 200, `event ${id} after ${previous.join("-")}`);
      }
      this.lastId = next;
      this.lastEventId = id;
    }
    this.events += 1;
    this.stats.sseEvent();
    return "ok";
  }
}
