import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
// Type-only: in the workspace this is the server's source; the published build inlines the
// router's types into dist/index.d.ts so consumers never need the server (see scripts/build.mjs).
import type { AppRouter } from "@agora/server/router";

export type { AppRouter };

/** The input of every procedure, e.g. `RouterInputs["markets"]["create"]`. */
export type RouterInputs = inferRouterInputs<AppRouter>;

/** The output of every procedure, e.g. `RouterOutputs["markets"]["byId"]`. */
export type RouterOutputs = inferRouterOutputs<AppRouter>;

/** What `auth.login`, `auth.register` and `auth.refresh` hand out. */
export type Tokens = RouterOutputs["auth"]["refresh"];

export type MaybePromise<T> = T | Promise<T>;

/**
 * What a subscription delivers to `onData`, e.g.
 * `SubscriptionEvent<RouterOutputs["markets"]["onEvent"]>` (`{ id, data }` for tracked events).
 */
export type SubscriptionEvent<TOutput> = TOutput extends AsyncIterable<infer TEvent> ? TEvent : never;
