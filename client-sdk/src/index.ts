import { createTRPCClient, httpBatchLink, TRPCClientError } from "@trpc/client";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import superjson from "superjson";
import type { AppRouter } from "@agora/server/router";

export type { AppRouter };
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;

export interface AgoraClientOptions {
  /** Base URL of the server, e.g. `http://localhost:3000` (the client adds `/trpc`). */
  url: string;
  /** Returns the current access token, sent as `Authorization: Bearer ...`. */
  getAccessToken?: () => string | null | undefined | Promise<string | null | undefined>;
  /** An API key for service accounts, sent as `X-Api-Key`. */
  apiKey?: string;
  /** Extra headers for every request. */
  headers?: Record<string, string>;
  /** A fetch implementation (defaults to the global one). */
  fetch?: typeof fetch;
}

export const MAX_BATCH_SIZE = 50;

export function createAgoraClient(options: AgoraClientOptions) {
  const base = options.url.replace(/\/+$/, "");
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${base}/trpc`,
        transformer: superjson,
        maxItems: MAX_BATCH_SIZE,
        ...(options.fetch ? { fetch: options.fetch } : {}),
        async headers() {
          const headers: Record<string, string> = { ...options.headers };
          const token = await options.getAccessToken?.();
          if (token) headers.authorization = `Bearer ${token}`;
          if (options.apiKey) headers["x-api-key"] = options.apiKey;
          return headers;
        },
      }),
    ],
  });
}

export type AgoraClient = ReturnType<typeof createAgoraClient>;

export type AgoraErrorCode =
  | "BAD_REQUEST"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "CONFLICT"
  | "TOO_MANY_REQUESTS"
  | "PAYLOAD_TOO_LARGE"
  | "INTERNAL_SERVER_ERROR"
  | (string & {});

export type AgoraError = TRPCClientError<AppRouter>;

/** Narrows an unknown error to an Agora error, with `data.code` and `data.fieldErrors`. */
export function isAgoraError(error: unknown): error is AgoraError {
  return error instanceof TRPCClientError;
}
