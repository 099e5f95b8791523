import { TooManyError } from "./errors.js";
import type { Principal } from "./principal.js";

/** Why the server ended a stream before its client did. */
export type StreamEnding = "expired" | "revoked";

export interface StreamLimits {
  /** Open streams per client address. */
  readonly perIp: number;
  /** Open streams per user or API key. */
  readonly perPrincipal: number;
}

export interface OpenStream {
  readonly principal: Principal | null;
  /** Aborted when the server ends the stream (see `ending`). */
  readonly signal: AbortSignal;
  /** Why the server ended it, or null while it runs (or after its client left). */
  readonly ending: StreamEnding | null;
  /** Forgets the stream; idempotent. */
  close(): void;
}

interface Entry extends OpenStream {
  ending: StreamEnding | null;
  readonly controller: AbortController;
}

/**
 * The event streams (SSE subscriptions) this process holds open, by client address and by
 * principal: a stream costs a connection and memory for as long as it lasts, so one caller may
 * hold only so many; a stream opened with an access token ends when the token expires (its
 * client resumes with a fresh one); and the streams of a user whose sessions change can be
 * found, to be ended if their session no longer stands.
 */
export class OpenStreams {
  private readonly byIp = new Map<string, number>();
  private readonly byPrincipal = new Map<string, Set<Entry>>();
  private count = 0;

  constructor(private readonly limits: StreamLimits) {}

  /** Streams open now (for tests and metrics). */
  get size(): number {
    return this.count;
  }

  /**
   * Registers a stream, or refuses it with TOO_MANY_REQUESTS when its address or principal
   * holds the most it may. `expiresAtMs`: when the credentials it was opened with expire.
   */
  open(ip: string, principal: Principal | null, expiresAtMs: number | null): OpenStream {
    const fromIp = this.byIp.get(ip) ?? 0;
    if (fromIp >= this.limits.perIp) {
      throw new TooManyError(
        `Too many open event streams from this address (at most ${String(this.limits.perIp)}); close one first`,
      );
    }
    const key = principal ? `${principal.kind}:${principal.id}` : null;
    const mine = key ? this.byPrincipal.get(key) : undefined;
    if (mine && mine.size >= this.limits.perPrincipal) {
      throw new TooManyError(
        `Too many open event streams for this account (at most ${String(this.limits.perPrincipal)}); close one first`,
      );
    }
    const controller = new AbortController();
    let timer: NodeJS.Timeout | null = null;
    let closed = false;
    const entry: Entry = {
      principal,
      controller,
      signal: controller.signal,
      ending: null,
      close: () => {
        if (closed) return;
        closed = true;
        if (timer) clearTimeout(timer);
        const left = (this.byIp.get(ip) ?? 1) - 1;
        if (left > 0) this.byIp.set(ip, left);
        else this.byIp.delete(ip);
        if (key) {
          const set = this.byPrincipal.get(key);
          set?.delete(entry);
          if (set?.size === 0) this.byPrincipal.delete(key);
        }
        this.count -= 1;
      },
    };
    this.byIp.set(ip, fromIp + 1);
    if (key) {
      const set = mine ?? new Set<Entry>();
      set.add(entry);
      this.byPrincipal.set(key, set);
    }
    this.count += 1;
    if (expiresAtMs !== null) {
      timer = setTimeout(
        () => {
          this.end(entry, "expired");
        },
        Math.max(0, expiresAtMs - Date.now()),
      );
      timer.unref();
    }
    return entry;
  }

  /** The streams open for a user (not an API key). */
  ofUser(userId: string): OpenStream[] {
    return [...(this.byPrincipal.get(`user:${userId}`) ?? [])];
  }

  /** Ends a stream for the given reason: its subscription stops and tells its client why. */
  end(stream: OpenStream, reason: StreamEnding): void {
    const entry = stream as Entry;
    if (entry.ending !== null || entry.signal.aborted) return;
    entry.ending = reason;
    entry.close();
    entry.controller.abort();
  }
}
