import type { Operation, TRPCLink } from "@trpc/client";
import { observable, type Unsubscribable } from "@trpc/server/observable";
import { agoraErrorCode } from "./errors.js";
import type { AppRouter, MaybePromise, Tokens } from "./types.js";

/**
 * Public procedures whose UNAUTHORIZED means "wrong credentials in the input", never "your
 * access token expired": refreshing for them would be wrong (and `auth.refresh` would recurse).
 */
const NO_REFRESH_PATHS = new Set([
  "auth.login",
  "auth.register",
  "auth.refresh",
  "auth.requestPasswordReset",
  "auth.resetPassword",
]);

export interface TokenRefresherOptions {
  /** Returns the current refresh token, or nothing when the app has none. */
  refreshToken: () => MaybePromise<string | null | undefined>;
  /** Stores rotated tokens; awaited before any call is retried. */
  onTokens: (tokens: Tokens) => MaybePromise<void>;
  /** Calls `auth.refresh` without going through the refresh link. */
  refresh: (refreshToken: string) => Promise<Tokens>;
  /** Told once per refresh token the server refused: the session is over. */
  onRefused?: () => void;
}

/**
 * Single-flight token refresh. Every successful refresh starts a new "generation"; a call
 * that failed with a token from an older generation is simply retried with the new one, so
 * responses that arrive after a refresh finished never start a second refresh.
 */
export class TokenRefresher {
  #generation = 0;
  #inflight: Promise<boolean> | null = null;
  /** A refresh token the server refused: never sent again (reuse would revoke the session). */
  #refused: string | null = null;

  constructor(private readonly options: TokenRefresherOptions) {}

  get generation(): number {
    return this.#generation;
  }

  /** Resolves true when a retry may succeed (tokens were refreshed since `generation`). */
  refreshSince(generation: number): Promise<boolean> {
    if (generation !== this.#generation) return Promise.resolve(true);
    this.#inflight ??= this.#refresh().finally(() => {
      this.#inflight = null;
    });
    return this.#inflight;
  }

  async #refresh(): Promise<boolean> {
    let refreshToken: string | null | undefined;
    try {
      refreshToken = await this.options.refreshToken();
    } catch {
      return false;
    }
    if (!refreshToken || refreshToken === this.#refused) return false;
    let tokens: Tokens;
    try {
      tokens = await this.options.refresh(refreshToken);
    } catch (error) {
      // A network failure may pass; a refusal will not, so remember the token.
      const code = agoraErrorCode(error);
      if (code === "UNAUTHORIZED" || code === "BAD_REQUEST") {
        this.#refused = refreshToken;
        try {
          this.options.onRefused?.();
        } catch {
          // The app's callback failing must not turn into a second error for the call.
        }
      }
      return false;
    }
    try {
      await this.options.onTokens(tokens);
    } catch {
      return false;
    }
    this.#generation += 1;
    return true;
  }
}

/** How long a resumed subscription must have streamed before it may refresh its token again. */
const RESTREAM_AFTER_MS = 5_000;

function withLastEventId(op: Operation, lastEventId: string | undefined): Operation {
  if (lastEventId === undefined || op.type !== "subscription") return op;
  if (op.input !== undefined && (op.input === null || typeof op.input !== "object")) return op;
  return { ...op, input: { ...(op.input ?? {}), lastEventId } };
}

/**
 * On an UNAUTHORIZED result, refreshes the tokens once (shared by every call that fails at
 * the same time) and retries the call once. A call is never retried twice, so a failing
 * refresh or a token the server keeps refusing cannot loop: the original error is thrown.
 * Subscriptions are resumed from the last event id they received. The server ends a stream
 * when the access token it was opened with expires, so a resumed subscription that then ran
 * for a while (`RESTREAM_AFTER_MS`) may refresh again at its next expiry: at most one refresh
 * per subscription in that time, so a token refused at once still cannot loop.
 */
export function authRefreshLink(refresher: TokenRefresher): TRPCLink<AppRouter> {
  return () =>
    ({ op, next }) =>
      observable((observer) => {
        let current: Unsubscribable | null = null;
        let disposed = false;
        let lastEventId: string | undefined;

        const attempt = (operation: Operation, isRetry: boolean) => {
          const generation = refresher.generation;
          let startedAt: number | null = null;
          current = next(operation).subscribe({
            next(envelope) {
              const result = envelope.result;
              if ("id" in result && typeof result.id === "string" && result.id !== "") {
                lastEventId = result.id;
              }
              if ("type" in result && result.type === "started") startedAt ??= Date.now();
              observer.next(envelope);
            },
            error(error) {
              // A subscription that streamed for a while since its last refresh may refresh again.
              const streamedLong = startedAt !== null && Date.now() - startedAt >= RESTREAM_AFTER_MS;
              if (
                (isRetry && !streamedLong) ||
                disposed ||
                NO_REFRESH_PATHS.has(op.path) ||
                error.data?.code !== "UNAUTHORIZED"
              ) {
                observer.error(error);
                return;
              }
              void refresher.refreshSince(generation).then((refreshed) => {
                if (disposed) return;
                if (refreshed) attempt(withLastEventId(op, lastEventId), true);
                else observer.error(error);
              });
            },
            complete() {
              observer.complete();
            },
          });
        };

        attempt(op, false);
        return () => {
          disposed = true;
          current?.unsubscribe();
        };
      });
}
