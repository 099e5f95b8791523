import { httpSubscriptionLink, type OperationLink, type TRPCLink } from "@trpc/client";
import { observable, type Unsubscribable } from "@trpc/server/observable";
import { TRPCClientError } from "@trpc/client";
import type { AppRouter } from "./types.js";

/** Any `EventSource` class: the browser's, Node's, or a ponyfill such as the `eventsource` package. */
export type EventSourceConstructor = NonNullable<Parameters<typeof httpSubscriptionLink>[0]["EventSource"]>;

/**
 * The global `EventSource` where there is one (browsers, Deno, Bun, newer Node), else the
 * `eventsource` package. Imported dynamically so browser bundles never load it.
 */
export async function loadEventSource(): Promise<EventSourceConstructor> {
  const global = (globalThis as { EventSource?: EventSourceConstructor }).EventSource;
  if (global) return global;
  const { EventSource } = await import("eventsource");
  return EventSource;
}

/** A link built on first use (here: once the EventSource class is known). */
export function lazyLink(create: () => Promise<TRPCLink<AppRouter>>): TRPCLink<AppRouter> {
  return (runtime) => {
    let link: Promise<OperationLink<AppRouter>> | null = null;
    return ({ op, next }) =>
      observable((observer) => {
        let subscription: Unsubscribable | null = null;
        let closed = false;
        link ??= create().then((factory) => factory(runtime));
        link.then(
          (operationLink) => {
            if (closed) return;
            subscription = operationLink({ op, next }).subscribe(observer);
          },
          (error: unknown) => {
            link = null;
            if (!closed)
              observer.error(TRPCClientError.from(error instanceof Error ? error : new Error(String(error))));
          },
        );
        return () => {
          closed = true;
          subscription?.unsubscribe();
        };
      });
  };
}
