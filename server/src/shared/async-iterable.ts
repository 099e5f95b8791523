import { isTrackedEnvelope, tracked, type TrackedEnvelope } from "@trpc/server";
import { z } from "zod";

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

/**
 * The `.output()` of a subscription: validates every `tracked(id, data)` event the generator
 * yields against `item`, so a subscription can leak no more than a query could.
 */
export function trackedEvents<T extends z.ZodType>(item: T) {
  const schema = z
    .custom<AsyncIterable<TrackedEnvelope<z.input<T>>>>(isAsyncIterable, "Expected an async iterable")
    .transform(async function* (source): AsyncGenerator<TrackedEnvelope<z.output<T>>, void, unknown> {
      for await (const envelope of source) {
        if (!isTrackedEnvelope<z.input<T>>(envelope))
          throw new Error("Subscription yielded an untracked event");
        const [id, data] = envelope;
        yield tracked(id, await item.parseAsync(data));
      }
    });
  trackedEventSchemas.set(schema, item);
  return schema;
}

/**
 * The schema of one event of each `trackedEvents(...)` output: what the panel and the API
 * page show as a subscription's output (the stream itself has no JSON Schema).
 */
export const trackedEventSchemas = new WeakMap<z.ZodType, z.ZodType>();
