import { z } from "zod";
import type { EventBus } from "../../infra/events/bus.js";

const CHANNEL = "sessions";
const SessionsChanged = z.object({ userId: z.string() });

/**
 * "This user's sessions changed" (revoked, or their role changed), announced on the event bus
 * so that every instance can end the event streams those sessions no longer allow. Announced
 * after the session cache is invalidated: a stream re-checked on hearing it sees the change.
 */
export class SessionEvents {
  constructor(private readonly bus: EventBus) {}

  /** Never throws (the bus does not): the revocation itself has happened already. */
  changed(userId: string): Promise<void> {
    return this.bus.publish(CHANNEL, { userId });
  }

  /** The ids of users whose sessions change from now on, until `signal` aborts. */
  async subscribe(signal: AbortSignal): Promise<AsyncIterable<string>> {
    const events = await this.bus.subscribe(CHANNEL, { signal });
    return (async function* () {
      for await (const { data } of events) {
        const parsed = SessionsChanged.safeParse(data);
        if (parsed.success) yield parsed.data.userId;
      }
    })();
  }
}
