// `@agora/client/react`: the SDK's client inside TanStack Query, through tRPC's own React
// integration (@trpc/tanstack-react-query), with the session handling every app would write.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import type { TRPCClient } from "@trpc/client";
import { createTRPCContext, type TRPCOptionsProxy } from "@trpc/tanstack-react-query";
import { useSyncExternalStore, type ReactNode } from "react";
import { createAgoraClient, type AgoraClient, type AgoraClientOptions } from "./client.js";
import { isAgoraError } from "./errors.js";
import type { AppRouter, RouterInputs, RouterOutputs, Tokens } from "./types.js";

/** Where the kit keeps the signed-in user's tokens. */
export interface TokenStore {
  /** The current tokens, or null when signed out. Returns the same object until they change. */
  get: () => Tokens | null;
  /** Stores new tokens (sign-in, automatic refresh), or null to sign out. */
  set: (tokens: Tokens | null) => void;
  /** Calls `listener` whenever the tokens change, here or (with `localStorage`) in another tab. */
  subscribe: (listener: () => void) => () => void;
}

/** The part of the Web Storage API a token store needs (`localStorage`, `sessionStorage`). */
export type TokenStorage = Pick<Storage, "getItem" | "setItem" | "removeItem">;

export interface TokenStoreOptions {
  /**
   * Where tokens persist across reloads: `localStorage` by default where there is one (so
   * every tab shares one session and one refresh token), `null` for memory only.
   */
  storage?: TokenStorage | null;
  /** The storage key. Default `"agora.tokens"`. */
  key?: string;
}

function defaultStorage(): TokenStorage | null {
  try {
    return (globalThis as { localStorage?: TokenStorage }).localStorage ?? null;
  } catch {
    return null; // a browser that blocks storage throws on access
  }
}

function parseTokens(raw: string | null): Tokens | null {
  if (raw === null) return null;
  try {
    const value = JSON.parse(raw) as Partial<Tokens> | null;
    return typeof value?.accessToken === "string" && typeof value.refreshToken === "string"
      ? (value as Tokens)
      : null;
  } catch {
    return null;
  }
}

/**
 * A token store over Web Storage (or memory). It reads the storage on every `get`, so a
 * refresh made by another tab is seen at once instead of spending an old refresh token.
 */
export function createTokenStore(options: TokenStoreOptions = {}): TokenStore {
  const storage = options.storage === undefined ? defaultStorage() : options.storage;
  const key = options.key ?? "agora.tokens";
  const listeners = new Set<() => void>();
  let raw: string | null = null;
  let current: Tokens | null = null;

  const read = (): string | null => {
    if (!storage) return raw;
    try {
      return storage.getItem(key);
    } catch {
      return raw;
    }
  };
  const notify = () => {
    for (const listener of listeners) listener();
  };
  const onStorage = (event: { key: string | null }) => {
    if (event.key === key || event.key === null) notify();
  };
  const target = globalThis as {
    addEventListener?: (type: "storage", listener: typeof onStorage) => void;
    removeEventListener?: (type: "storage", listener: typeof onStorage) => void;
  };

  return {
    get() {
      const now = read();
      if (now !== raw || (current === null && now !== null)) {
        raw = now;
        current = parseTokens(now);
      }
      return current;
    },
    set(tokens) {
      raw = tokens === null ? null : JSON.stringify(tokens);
      current = tokens;
      try {
        if (raw === null) storage?.removeItem(key);
        else storage?.setItem(key, raw);
      } catch {
        // Storage full or blocked: the session still lives in memory for this page.
      }
      notify();
    },
    subscribe(listener) {
      listeners.add(listener);
      if (listeners.size === 1 && storage) target.addEventListener?.("storage", onStorage);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && storage) target.removeEventListener?.("storage", onStorage);
      };
    },
  };
}

/**
 * TanStack Query's `retry` for Agora calls: never retry an answer in the 4xx range (bad
 * input, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT, TOO_MANY_REQUESTS: the same call would
 * get the same answer); retry transport failures and 5xx up to 3 times.
 */
export function retryUnlessClientError(failureCount: number, error: unknown): boolean {
  const status = isAgoraError(error) ? error.data?.httpStatus : undefined;
  if (status !== undefined && status >= 400 && status < 500) return false;
  return failureCount < 3;
}

/** A QueryClient with {@link retryUnlessClientError} for queries and no retries for mutations. */
export function createAgoraQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: { retry: retryUnlessClientError },
      mutations: { retry: false },
    },
  });
}

export interface AgoraReactOptions extends Pick<
  AgoraClientOptions,
  "url" | "headers" | "fetch" | "EventSource" | "apiKey"
> {
  /** Where tokens live. Default: {@link createTokenStore}() (`localStorage`, shared by tabs). */
  tokenStore?: TokenStore;
  /**
   * Called when the server refuses the refresh token (the session expired or was revoked),
   * after the kit has cleared the tokens and the query cache: send the user to sign in.
   * Never called for a wrong password at sign-in, which the `login` call rejects instead.
   */
  onSessionExpired?: () => void;
  /** Default: {@link createAgoraQueryClient}(). */
  queryClient?: QueryClient;
  /**
   * How subscriptions authenticate: `"ticket"` (the default here) keeps the access token out
   * of stream URLs at the cost of one request per stream; see `createAgoraClient`.
   */
  subscriptionAuth?: "token" | "ticket";
}

type AuthResult = RouterOutputs["auth"]["login"];

/** What {@link createAgoraReact} returns. */
export interface AgoraReact {
  /** The SDK client, for calls outside React (loaders, event handlers). */
  client: AgoraClient;
  queryClient: QueryClient;
  tokens: TokenStore;
  /** Provides the query client and the tRPC context to everything below it. */
  AgoraProvider: (props: { children?: ReactNode }) => ReactNode;
  /** tRPC's options proxy: `useQuery(trpc.markets.byId.queryOptions({ id }))`. */
  useTRPC: () => TRPCOptionsProxy<AppRouter>;
  useTRPCClient: () => TRPCClient<AppRouter>;
  /** The signed-in user's tokens, or null: re-renders on sign-in, sign-out and expiry. */
  useSession: () => Tokens | null;
  /** Signs in and stores the tokens. A wrong password rejects with UNAUTHORIZED (path `auth.login`). */
  login: (input: RouterInputs["auth"]["login"]) => Promise<AuthResult>;
  /** Creates an account, signs in and stores the tokens. */
  register: (input: RouterInputs["auth"]["register"]) => Promise<AuthResult>;
  /**
   * Revokes the session on the server, then clears the tokens and the query cache. The
   * local sign-out happens even if the server cannot be reached.
   */
  logout: () => Promise<void>;
}

/**
 * Everything a React app needs to talk to Agora: the provider, tRPC's hooks (query keys,
 * `queryOptions`, `mutationOptions`, `subscriptionOptions`, typed errors) wired to the SDK's
 * client (batching, superjson, SSE, token refresh, resumed subscriptions), and sign-in and
 * sign-out that keep the token store and the query cache right.
 *
 * ```tsx
 * export const agora = createAgoraReact({ url: "https://api.example.com", onSessionExpired: () => navigate("/login") });
 * // <agora.AgoraProvider><App /></agora.AgoraProvider>
 * const trpc = agora.useTRPC();
 * const markets = useInfiniteQuery(trpc.markets.list.infiniteQueryOptions({ limit: 20 }, { getNextPageParam: (p) => p.nextCursor }));
 * ```
 */
export function createAgoraReact(options: AgoraReactOptions): AgoraReact {
  const tokens = options.tokenStore ?? createTokenStore();
  const queryClient = options.queryClient ?? createAgoraQueryClient();

  const signOutLocally = () => {
    tokens.set(null);
    queryClient.clear();
  };

  const client: AgoraClient = createAgoraClient({
    url: options.url,
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.EventSource ? { EventSource: options.EventSource } : {}),
    ...(options.apiKey ? { apiKey: options.apiKey } : {}),
    subscriptionAuth: options.subscriptionAuth ?? "ticket",
    getAccessToken: () => tokens.get()?.accessToken,
    refreshToken: () => tokens.get()?.refreshToken,
    onTokens: (next) => {
      tokens.set(next);
    },
    onSessionExpired: () => {
      signOutLocally();
      options.onSessionExpired?.();
    },
  });

  const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

  function AgoraProvider({ children }: { children?: ReactNode }) {
    return (
      <QueryClientProvider client={queryClient}>
        <TRPCProvider trpcClient={client} queryClient={queryClient}>
          {children}
        </TRPCProvider>
      </QueryClientProvider>
    );
  }

  const signedIn = async (result: Promise<AuthResult>): Promise<AuthResult> => {
    const answer = await result;
    // A new user: nothing cached for the previous one (or for no one) may show.
    queryClient.clear();
    tokens.set(answer.tokens);
    return answer;
  };

  return {
    client,
    queryClient,
    tokens,
    AgoraProvider,
    useTRPC,
    useTRPCClient,
    useSession: () => useSyncExternalStore(tokens.subscribe, tokens.get, () => null),
    login: (input) => signedIn(client.auth.login.mutate(input)),
    register: (input) => signedIn(client.auth.register.mutate(input)),
    async logout() {
      const current = tokens.get();
      try {
        if (current) await client.auth.logout.mutate({ refreshToken: current.refreshToken });
      } finally {
        signOutLocally();
      }
    },
  };
}
