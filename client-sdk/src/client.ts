import {
  createTRPCClient,
  httpBatchLink,
  httpLink,
  httpSubscriptionLink,
  splitLink,
  type TRPCClient,
  type TRPCLink,
} from "@trpc/client";
import superjson from "superjson";
import { authRefreshLink, TokenRefresher } from "./auth-refresh.js";
import { lazyLink, loadEventSource, type EventSourceConstructor } from "./event-source.js";
import type { AppRouter, MaybePromise, Tokens } from "./types.js";

/** The server refuses batches of more than 50 calls (its documented limit: a larger batch is a 400). */
export const MAX_BATCH_SIZE = 50;

/**
 * Batched queries travel in the URL; past this length they are split into more requests,
 * which keeps the request line within the 8 KiB buffers of common proxies (and Node's 16 KiB).
 */
export const MAX_URL_LENGTH = 8000;

type TokenGetter = () => MaybePromise<string | null | undefined>;
type HeadersOption = Record<string, string> | (() => MaybePromise<Record<string, string>>);

interface BaseOptions {
  /** Base URL of the server, e.g. `https://agora.example.com` (the client adds `/trpc`). */
  url: string;
  /** Returns the current access token, sent as `Authorization: Bearer ...` (or, for subscriptions, as a connection param). */
  getAccessToken?: TokenGetter;
  /** An API key for service accounts, sent as `X-Api-Key`. */
  apiKey?: string;
  /** Extra headers for every HTTP request (browsers cannot add headers to an `EventSource`). */
  headers?: HeadersOption;
  /** A `fetch` implementation; defaults to the global one. */
  fetch?: typeof fetch;
  /**
   * The `EventSource` used for subscriptions. Defaults to the global one and, where there is
   * none (Node 20), to the `eventsource` package, loaded only when a subscription starts.
   */
  EventSource?: EventSourceConstructor;
  /**
   * How a subscription proves who is calling. An `EventSource` cannot send headers, so
   * credentials travel in the stream's URL, where proxies and browser history may log them:
   * - `"token"` (the default): the access token itself, as the `token` connection param;
   * - `"ticket"`: a single-use ticket that expires in 30 s, fetched with
   *   `auth.subscriptionTicket` just before each stream opens (one extra request per stream),
   *   so nothing long-lived ever appears in a URL. API keys always go as `apiKey`.
   */
  subscriptionAuth?: "token" | "ticket";
}

interface WithRefresh {
  /**
   * Returns the current refresh token. When given, a call that fails with UNAUTHORIZED makes
   * the client call `auth.refresh` once (shared by every call failing at the same time),
   * hand the rotated tokens to `onTokens`, and retry the call once.
   */
  refreshToken: TokenGetter;
  /**
   * Receives the rotated tokens after an automatic refresh. Store them so that
   * `getAccessToken` and `refreshToken` return them: the old refresh token is spent.
   */
  onTokens: (tokens: Tokens) => MaybePromise<void>;
  /**
   * Called when the server refuses the refresh token (expired, revoked, reused): the session
   * is over and the user must sign in again. Never called for a wrong password at sign-in
   * (`auth.login` is not refreshed) nor for a network failure during the refresh.
   */
  onSessionExpired?: () => void;
}

interface WithoutRefresh {
  refreshToken?: undefined;
  onTokens?: undefined;
  onSessionExpired?: undefined;
}

/** Options of {@link createAgoraClient}. `refreshToken` and `onTokens` go together. */
export type AgoraClientOptions = BaseOptions & (WithRefresh | WithoutRefresh);

/** A typed client: `client.markets.byId.query({ id })`, `client.auth.login.mutate(...)`, ... */
export type AgoraClient = TRPCClient<AppRouter>;

async function resolveHeaders(option: HeadersOption | undefined): Promise<Record<string, string>> {
  if (option === undefined) return {};
  return { ...(typeof option === "function" ? await option() : option) };
}

/**
 * Creates a client for an Agora server: batched HTTP for queries and mutations (at most
 * {@link MAX_BATCH_SIZE} calls per request), server-sent events for subscriptions, superjson
 * for `Date` and friends, and optional automatic access-token refresh.
 */
export function createAgoraClient(options: AgoraClientOptions): AgoraClient {
  const trpcUrl = `${options.url.replace(/\/+$/, "")}/trpc`;
  const fetchImpl = options.fetch;
  const fetchOption = fetchImpl ? { fetch: fetchImpl } : {};

  const http = httpBatchLink<AppRouter>({
    url: trpcUrl,
    transformer: superjson,
    maxItems: MAX_BATCH_SIZE,
    maxURLLength: MAX_URL_LENGTH,
    ...fetchOption,
    async headers() {
      const headers = await resolveHeaders(options.headers);
      const token = await options.getAccessToken?.();
      if (token) headers.authorization = `Bearer ${token}`;
      if (options.apiKey) headers["x-api-key"] = options.apiKey;
      return headers;
    },
  });

  const subscriptions = lazyLink(async () => {
    const EventSource = options.EventSource ?? (await loadEventSource());
    return httpSubscriptionLink<AppRouter, EventSourceConstructor>({
      url: trpcUrl,
      transformer: superjson,
      EventSource,
      // EventSource cannot send an Authorization header: credentials go as connection params,
      // which the server reads only for subscriptions.
      async connectionParams() {
        const params: Record<string, string> = {};
        const token = await options.getAccessToken?.();
        if (token && options.subscriptionAuth === "ticket") {
          // Through the whole client: an expired access token is refreshed before the ticket.
          params.ticket = (await client.auth.subscriptionTicket.mutate()).ticket;
        } else if (token) params.token = token;
        if (options.apiKey) params.apiKey = options.apiKey;
        return params;
      },
      // The `eventsource` package (and any fetch-based EventSource) honours a custom fetch:
      // route it through the same fetch and headers as every other request.
      async eventSourceOptions() {
        const headers = await resolveHeaders(options.headers);
        const base = fetchImpl ?? globalThis.fetch;
        const esFetch: typeof fetch = (input, init) => {
          const merged = new Headers(init?.headers);
          for (const [name, value] of Object.entries(headers)) if (!merged.has(name)) merged.set(name, value);
          return base(input, { ...init, headers: merged });
        };
        return { fetch: esFetch };
      },
    });
  });

  const transport = splitLink<AppRouter>({
    condition: (op) => op.type === "subscription",
    true: subscriptions,
    false: http,
  });

  const links: TRPCLink<AppRouter>[] = [];
  if (options.refreshToken) {
    // Refresh calls go straight to the server: no batching behind a failing call, no recursion.
    const refreshClient = createTRPCClient<AppRouter>({
      links: [
        httpLink({
          url: trpcUrl,
          transformer: superjson,
          ...fetchOption,
          // The access token held (usually expired by now) shows the server which session the
          // refresh comes from: another tab of the app refreshing with the same token at the
          // same moment then gets the same new tokens instead of ending the session.
          async headers() {
            const headers = await resolveHeaders(options.headers);
            const token = await options.getAccessToken?.();
            if (token) headers.authorization = `Bearer ${token}`;
            return headers;
          },
        }),
      ],
    });
    const refresher = new TokenRefresher({
      refreshToken: options.refreshToken,
      onTokens: options.onTokens,
      refresh: (refreshToken) => refreshClient.auth.refresh.mutate({ refreshToken }),
      ...(options.onSessionExpired ? { onRefused: options.onSessionExpired } : {}),
    });
    links.push(authRefreshLink(refresher));
  }
  links.push(transport);

  const client = createTRPCClient<AppRouter>({ links });
  return client;
}
