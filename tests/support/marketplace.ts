import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink } from "@trpc/client";
import { EventSource } from "eventsource";
import superjson from "superjson";
import type { AgoraClient, AppRouter, RouterInputs, RouterOutputs } from "@agora/client";

export type Market = RouterOutputs["markets"]["byId"];
export type Product = RouterOutputs["products"]["byId"];

/** An access token, or a subscription ticket from `auth.subscriptionTicket`. */
export type SubscriptionAuth = string | { ticket: string };

let n = 0;
const tag = () => `${Date.now().toString(36)}${(n += 1).toString()}`;

export async function createMarket(
  api: AgoraClient,
  input: Partial<RouterInputs["markets"]["create"]> = {},
): Promise<Market> {
  return api.markets.create.mutate({ name: `Market ${tag()}`, status: "ACTIVE", ...input });
}

export async function createProduct(
  api: AgoraClient,
  marketId: string,
  input: Partial<Omit<RouterInputs["products"]["create"], "marketId">> = {},
): Promise<Product> {
  return api.products.create.mutate({
    marketId,
    name: `Product ${tag()}`,
    priceCents: 100,
    stock: 10,
    ...input,
  });
}

/**
 * A client that also speaks SSE subscriptions (Node 20 has no global EventSource). The
 * access token (or a subscription ticket) goes in the connection params, since EventSource
 * cannot send headers.
 */
export function subscriptionClient(ts: { url: string }, token?: SubscriptionAuth) {
  const url = `${ts.url}/trpc`;
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: httpSubscriptionLink({
          url,
          transformer: superjson,
          EventSource,
          connectionParams: () => (typeof token === "string" ? { token } : (token ?? {})),
        }),
        false: httpBatchLink({ url, transformer: superjson }),
      }),
    ],
  });
}

/** One event as the client gets it: `{ id, data }`. */
export type Received =
  RouterOutputs["markets"]["onEvent"] extends AsyncIterable<infer E, infer _R, infer _N> ? E : never;

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void } {
  const out: { resolve: () => void; reject: (error: unknown) => void } = {
    resolve: () => undefined,
    reject: () => undefined,
  };
  const promise = new Promise<void>((resolve, reject) => {
    out.resolve = resolve;
    out.reject = reject;
  });
  return { promise, ...out };
}

/** Subscribes to a market's events and collects them; `next(n)` waits until n have arrived. */
export async function watchMarket(
  ts: { url: string },
  input: { marketId: string; lastEventId?: string | null },
  token?: SubscriptionAuth,
) {
  const client = subscriptionClient(ts, token);
  const events: Received[] = [];
  let failure: unknown = null;
  const waiters = new Set<() => void>();
  const poke = () => {
    for (const w of waiters) w();
  };
  const ready = deferred();
  const sub = client.markets.onEvent.subscribe(input, {
    onStarted: () => {
      ready.resolve();
    },
    onData: (event) => {
      events.push(event);
      poke();
    },
    onError: (error) => {
      failure = error;
      ready.reject(error);
      poke();
    },
  });
  await ready.promise;
  return {
    events,
    async next(count: number, timeoutMs = 5000): Promise<Received[]> {
      const deadline = Date.now() + timeoutMs;
      while (events.length < count) {
        if (failure) throw failure instanceof Error ? failure : new Error("subscription failed");
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${count} events, got ${events.length}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 100));
          waiters.add(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        waiters.clear();
      }
      return events.slice(0, count);
    },
    /** Resolves with the error that ends the stream, or fails after `timeoutMs`. */
    async error(timeoutMs = 5000): Promise<unknown> {
      const deadline = Date.now() + timeoutMs;
      while (failure === null) {
        if (Date.now() > deadline) throw new Error(`the stream did not end within ${String(timeoutMs)} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return failure;
    },
    close() {
      sub.unsubscribe();
    },
  };
}

/** Opens a subscription that must fail; resolves with the error. */
export function subscriptionError(
  ts: { url: string },
  input: { marketId: string; lastEventId?: string | null },
  token?: SubscriptionAuth,
): Promise<unknown> {
  const client = subscriptionClient(ts, token);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.unsubscribe();
      reject(new Error("subscription did not fail"));
    }, 5000);
    const sub = client.markets.onEvent.subscribe(input, {
      onData: () => {
        clearTimeout(timer);
        sub.unsubscribe();
        reject(new Error("subscription produced data"));
      },
      onError: (error) => {
        clearTimeout(timer);
        sub.unsubscribe();
        resolve(error);
      },
    });
  });
}
