import { isTrackedEnvelope, tracked } from "@trpc/server";
import { z } from "zod";
function isAsyncIterable(value) {
    return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}
/**
 * The `.output()` of a subscription: validates every `tracked(id, data)` event the generator
 * yields against `item`, so a subscription can leak no more than a query could.
 */
export function trackedEvents(item) {
    return z
        .custom(isAsyncIterable, "Expected an async iterable")
        .transform(async function* (source) {
        for await (const envelope of source) {
            if (!isTrackedEnvelope(envelope))
                throw new Error("Subscription yielded an untracked event");
            const [id, data] = envelope;
            yield tracked(id, await item.parseAsync(data));
        }
    });
}
//# sourceMappingURL=async-iterable.js.map