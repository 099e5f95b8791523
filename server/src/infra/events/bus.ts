/**
 * Pub/sub with a short replayable history per channel, so a subscriber that reconnects with
 * the id of the last event it saw (`lastEventId`) gets what it missed.
 *
 * Event ids look like Redis stream ids, `<ms>-<seq>`, in both implementations: they order
 * the same way everywhere, so "after this id" means the same thing in memory and in Redis.
 */
export interface BusEvent {
  readonly id: string;
  readonly data: unknown;
}

export interface SubscribeOptions {
  /** Replay retained events published after this id before the live ones. */
  lastEventId?: string | null;
  /** Ends the subscription (the iterator returns) when aborted. */
  signal?: AbortSignal;
}

export interface EventBus {
  /** Publishes after the fact: never throws (a lost notification must not fail a committed write). */
  publish(channel: string, data: unknown): Promise<void>;
  /** Live events of a channel, preceded by the retained ones after `lastEventId`. */
  subscribe(channel: string, options?: SubscribeOptions): Promise<AsyncIterable<BusEvent>>;
  /** Ends every open subscription and releases connections. */
  close(): Promise<void>;
}

export interface EventBusOptions {
  /** Events kept per channel for replay. */
  historySize?: number;
  /** A subscriber that falls this far behind is dropped (its client reconnects and replays). */
  maxQueued?: number;
  /**
   * A resuming subscriber replays at most this many events: the newest ones after its
   * `lastEventId` (a client far behind skips the older ones). Bounds what one small request
   * can make the server send.
   */
  replayMax?: number;
  /**
   * In-process bus only: events kept for replay across all channels. Past it, the channels
   * nobody listens to are forgotten, least recently published first, so memory stays bounded
   * however many markets see events (10,000 channels x 200 events would be about a gigabyte).
   */
  maxRetained?: number;
}

export const DEFAULT_HISTORY = 200;
export const DEFAULT_MAX_QUEUED = 1000;
export const DEFAULT_REPLAY_MAX = 100;
export const DEFAULT_MAX_RETAINED = 20_000;
export const HISTORY_TTL_SECONDS = 24 * 60 * 60;

export type EventId = readonly [number, number];

export function parseEventId(id: string): EventId | null {
  const match = /^(\d{1,16})-(\d{1,16})$/.exec(id);
  if (!match) return null;
  return [Number(match[1]), Number(match[2])];
}

export function isAfter(a: EventId, b: EventId): boolean {
  return a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);
}

export function formatEventId(id: EventId): string {
  return `${String(id[0])}-${String(id[1])}`;
}

/** Where a subscription gets its events from; each bus supplies one per channel. */
export interface ChannelSource {
  /** Starts delivering live events to `deliver`; resolves once nothing published from now on can be missed. */
  listen(deliver: (event: BusEvent) => void): Promise<() => Promise<void>>;
  /** Retained events strictly after `after`, oldest first. */
  history(after: EventId): Promise<BusEvent[]>;
}

export class SubscriberOverflowError extends Error {
  override readonly name = "SubscriberOverflowError";
}

/**
 * Listens first, then replays history, then streams live events, skipping any live event the
 * replay already covered: that order is what guarantees nothing published in between is lost.
 * Resolves once listening, so a caller that awaits it cannot miss an event published after.
 */
export async function openStream(
  source: ChannelSource,
  options: SubscribeOptions,
  closed: AbortSignal,
  maxQueued: number,
): Promise<AsyncIterable<BusEvent>> {
  const queue: BusEvent[] = [];
  let wake: (() => void) | null = null;
  const state = { overflow: false };
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const unlisten = await source.listen((event) => {
    if (queue.length >= maxQueued) state.overflow = true;
    else queue.push(event);
    notify();
  });
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    options.signal?.removeEventListener("abort", stop);
    closed.removeEventListener("abort", stop);
    await unlisten();
  };
  // Ending by signal also releases the listener when the stream was never iterated.
  function stop() {
    notify();
    void release();
  }
  options.signal?.addEventListener("abort", stop);
  closed.addEventListener("abort", stop);
  const ended = () => options.signal?.aborted === true || closed.aborted;
  if (ended()) stop();

  return (async function* () {
    try {
      let last: EventId | null = null;
      const resumeFrom = options.lastEventId ? parseEventId(options.lastEventId) : null;
      if (resumeFrom) {
        for (const event of await source.history(resumeFrom)) {
          if (ended()) return;
          const id = parseEventId(event.id);
          if (id) last = id;
          yield event;
        }
      }
      while (!ended()) {
        if (state.overflow) throw new SubscriberOverflowError("Subscriber fell too far behind");
        const event = queue.shift();
        if (event) {
          const id = parseEventId(event.id);
          if (last && id && !isAfter(id, last)) continue;
          if (id) last = id;
          yield event;
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    } finally {
      await release();
    }
  })();
}
