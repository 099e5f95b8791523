import type { Logger } from "../../infra/logger.js";
import type { OpenStreams } from "../../shared/open-streams.js";
import type { AuthService } from "./service.js";
import type { SessionEvents } from "./session-events.js";

const RESUBSCRIBE_AFTER_MS = 1_000;

/**
 * Ends this instance's event streams whose session no longer stands (revoked, its user
 * deleted, or its role changed), as soon as any instance announces that the user's sessions
 * changed; until `signal` aborts. A stream whose session cannot be checked (the database is
 * unreachable) is ended too: its client reconnects and is checked then.
 */
export async function watchSessionChanges(
  deps: { events: SessionEvents; streams: OpenStreams; auth: AuthService; log: Logger },
  signal: AbortSignal,
): Promise<void> {
  const { events, streams, auth, log } = deps;
  // Read afresh each time: the compiler would take `signal.aborted` for constant in the loop.
  const stopped = () => signal.aborted;
  while (!stopped()) {
    try {
      for await (const userId of await events.subscribe(signal)) {
        for (const stream of streams.ofUser(userId)) {
          const principal = stream.principal;
          if (principal?.kind !== "user") continue;
          const role = await auth.liveSessionRole(userId, principal.sessionId).catch(() => null);
          if (role !== principal.role) streams.end(stream, "revoked");
        }
      }
    } catch (err) {
      if (!stopped()) log.warn({ err }, "watching session changes failed: listening again");
    }
    if (stopped()) return;
    await new Promise((resolve) => setTimeout(resolve, RESUBSCRIBE_AFTER_MS));
  }
}
