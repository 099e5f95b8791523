import superjson from "superjson";
import type { Logger } from "./logger.js";
import type { Redis } from "./redis.js";

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
   * In-process bus only: events kept for replay across all channels. Past it, the channels
   * nobody listens to are forgotten, least recently published first, so memory stays bounded
   * however many markets see events (10,000 channels x 200 events would be about a gigabyte).
   */
  maxRetained?: number;
}

const DEFAULT_HISTORY = 200;
const DEFAULT_MAX_QUEUED = 1000;
const DEFAULT_MAX_RETAINED = 20_000;
const HISTORY_TTL_SECONDS = 24 * 60 * 60;

type EventId = readonly [number, number];

function parseEventId(id: string): EventId | null {
  const match = /^(\d{1,16})-(\d{1,16})$/.exec(id);
  if (!match) return null;
  return [Number(match[1]), Number(match[2])];
}

function isAfter(a: EventId, b: EventId): boolean {
  return a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);
}

/** Where a subscription gets its events from; each bus supplies one per channel. */
interface ChannelSource {
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
async function openStream(
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

interface MemoryChannel {
  history: BusEvent[];
  listeners: Set<(event: BusEvent) => void>;
}

/** One process, no Redis: history lives in memory and dies with the process. */
export class MemoryEventBus implements EventBus {
  private readonly channels = new Map<string, MemoryChannel>();
  /**
   * The channels nobody listens to that still hold history, in order of their last publish
   * (or of their last listener leaving): what eviction may forget, quietest first, without
   * walking past the listened ones on every publish.
   */
  private readonly idle = new Map<string, MemoryChannel>();
  /** Ids restart from a later timestamp after a restart, so old ids still compare as older. */
  private readonly epoch = Date.now();
  private readonly closing = new AbortController();
  private readonly historySize: number;
  private readonly maxQueued: number;
  private readonly maxRetained: number;
  /** Events held in all channels' histories. */
  private retained = 0;
  /**
   * One sequence for every channel: a channel forgotten and started again later still gives
   * ids after those its subscribers saw, so their resume skips nothing new.
   */
  private seq = 0;

  constructor(options: EventBusOptions = {}) {
    this.historySize = options.historySize ?? DEFAULT_HISTORY;
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    this.maxRetained = options.maxRetained ?? DEFAULT_MAX_RETAINED;
  }

  /** Events held for replay, over all channels (for tests and metrics). */
  get retainedEvents(): number {
    return this.retained;
  }

  /** Channels held: listened to, or holding history (for tests and metrics). */
  get channelCount(): number {
    return this.channels.size;
  }

  private channel(name: string): MemoryChannel {
    let channel = this.channels.get(name);
    if (!channel) {
      channel = { history: [], listeners: new Set() };
      this.channels.set(name, channel);
    }
    return channel;
  }

  /** Puts a channel nobody listens to at the recent end of the idle ones, or forgets it if it is empty. */
  private markIdle(name: string, channel: MemoryChannel): void {
    this.idle.delete(name);
    if (channel.history.length > 0) this.idle.set(name, channel);
    else this.channels.delete(name);
  }

  /** Bounds memory: forget the least recently published channels nobody listens to. */
  private evictIdle(): void {
    for (const [name, channel] of this.idle) {
      if (this.retained <= this.maxRetained) break;
      this.retained -= channel.history.length;
      this.idle.delete(name);
      this.channels.delete(name);
    }
  }

  publish(channel: string, data: unknown): Promise<void> {
    if (this.closing.signal.aborted) return Promise.resolve();
    const ch = this.channel(channel);
    this.seq += 1;
    const event: BusEvent = { id: `${this.epoch}-${String(this.seq)}`, data };
    ch.history.push(event);
    this.retained += 1;
    if (ch.history.length > this.historySize) {
      this.retained -= ch.history.length - this.historySize;
      ch.history.splice(0, ch.history.length - this.historySize);
    }
    // Most recently published last, so eviction meets the quietest channels first.
    if (ch.listeners.size === 0) this.markIdle(channel, ch);
    if (this.retained > this.maxRetained) this.evictIdle();
    for (const listener of ch.listeners) listener(event);
    return Promise.resolve();
  }

  subscribe(channel: string, options: SubscribeOptions = {}): Promise<AsyncIterable<BusEvent>> {
    const source: ChannelSource = {
      listen: (deliver) => {
        const ch = this.channel(channel);
        ch.listeners.add(deliver);
        this.idle.delete(channel);
        return Promise.resolve(() => {
          ch.listeners.delete(deliver);
          // Still the bus's channel (not forgotten and started again meanwhile)?
          if (ch.listeners.size === 0 && this.channels.get(channel) === ch) this.markIdle(channel, ch);
          return Promise.resolve();
        });
      },
      history: (after) =>
        Promise.resolve(
          (this.channels.get(channel)?.history ?? []).filter((e) => {
            const id = parseEventId(e.id);
            return id !== null && isAfter(id, after);
          }),
        ),
    };
    return openStream(source, options, this.closing.signal, this.maxQueued);
  }

  close(): Promise<void> {
    this.closing.abort();
    this.channels.clear();
    this.idle.clear();
    this.retained = 0;
    return Promise.resolve();
  }
}

/**
 * Many processes: each event is appended to a capped Redis stream (the replayable history,
 * whose ids are the event ids) and then announced on a pub/sub channel. One dedicated
 * subscriber connection per process fans announcements out to local subscriptions.
 */
export class RedisEventBus implements EventBus {
  private subscriber: Redis | null = null;
  private readonly listeners = new Map<string, Set<(event: BusEvent) => void>>();
  private readonly closing = new AbortController();
  private readonly historySize: number;
  private readonly maxQueued: number;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
    options: EventBusOptions = {},
  ) {
    this.historySize = options.historySize ?? DEFAULT_HISTORY;
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
  }

  private key(channel: string): string {
    return `${this.prefix}events:${channel}`;
  }

  async publish(channel: string, data: unknown): Promise<void> {
    if (this.closing.signal.aborted) return;
    const key = this.key(channel);
    const payload = superjson.stringify(data);
    try {
      const id = await this.redis.xadd(key, "MAXLEN", "~", this.historySize, "*", "d", payload);
      if (id === null) return;
      // A quiet market's history expires: nobody resumes from a day-old event.
      await this.redis.expire(key, HISTORY_TTL_SECONDS);
      await this.redis.publish(key, JSON.stringify({ id, d: payload }));
    } catch (err) {
      this.log.warn({ err, channel }, "event publish failed");
    }
  }

  private connectSubscriber(): Redis {
    if (this.subscriber) return this.subscriber;
    // A connection in subscriber mode can run nothing else, so it needs its own.
    // It may queue its SUBSCRIBEs while (re)connecting: each still fails after the command timeout.
    // Without the ready check: ioredis 5 sends its check (INFO) after the handshake, a SUBSCRIBE
    // sent meanwhile puts the connection in subscriber mode first, INFO is refused there and
    // every pending SUBSCRIBE fails with it (ioredis#2037). The check waits for Redis to finish
    // loading its data, which SUBSCRIBE does not need.
    const subscriber = this.redis.duplicate({
      enableOfflineQueue: true,
      lazyConnect: false,
      enableReadyCheck: false,
    });
    subscriber.on("error", (err: Error) => {
      this.log.warn({ err: { message: err.message } }, "redis subscriber error");
    });
    subscriber.on("message", (key: string, message: string) => {
      const set = this.listeners.get(key);
      if (!set || set.size === 0) return;
      const event = decodeAnnouncement(message);
      if (!event) {
        this.log.warn({ key }, "malformed event announcement ignored");
        return;
      }
      for (const listener of set) listener(event);
    });
    this.subscriber = subscriber;
    return subscriber;
  }

  subscribe(channel: string, options: SubscribeOptions = {}): Promise<AsyncIterable<BusEvent>> {
    const key = this.key(channel);
    const source: ChannelSource = {
      listen: async (deliver) => {
        const subscriber = this.connectSubscriber();
        let set = this.listeners.get(key);
        if (!set) {
          set = new Set();
          this.listeners.set(key, set);
        }
        set.add(deliver);
        const unlisten = async () => {
          const current = this.listeners.get(key);
          current?.delete(deliver);
          if (current && current.size === 0) {
            this.listeners.delete(key);
            if (subscriber.status === "ready") await subscriber.unsubscribe(key).catch(() => undefined);
          }
        };
        // Resolves once Redis confirms: from then on no announcement can be missed.
        try {
          await subscriber.subscribe(key);
        } catch (error) {
          // Nobody will ever call unlisten: a listener left here would queue the channel's
          // events for no one, and keep this process subscribed to it, for good.
          await unlisten();
          throw error;
        }
        return unlisten;
      },
      history: async (after) => {
        const entries = await this.redis.xrange(
          key,
          `(${after[0]}-${after[1]}`,
          "+",
          "COUNT",
          this.historySize,
        );
        const events: BusEvent[] = [];
        for (const [id, fields] of entries) {
          const payload = fields[fields.indexOf("d") + 1];
          if (payload === undefined) continue;
          events.push({ id, data: superjson.parse(payload) });
        }
        return events;
      },
    };
    return openStream(source, options, this.closing.signal, this.maxQueued);
  }

  async close(): Promise<void> {
    this.closing.abort();
    const subscriber = this.subscriber;
    this.subscriber = null;
    this.listeners.clear();
    if (subscriber) await subscriber.quit().catch(() => undefined);
  }
}

function decodeAnnouncement(message: string): BusEvent | null {
  try {
    const parsed: unknown = JSON.parse(message);
    if (
      typeof parsed === "object" &&
      parsed !== null &&
      "id" in parsed &&
      "d" in parsed &&
      typeof parsed.id === "string" &&
      typeof parsed.d === "string"
    ) {
      return { id: parsed.id, data: superjson.parse(parsed.d) };
    }
    return null;
  } catch {
    return null;
  }
}

/** The one place that picks the implementation: Redis when configured, else in-process. */
export function createEventBus(
  redis: Redis | null,
  keyPrefix: string,
  log: Logger,
  options: EventBusOptions = {},
): EventBus {
  return redis ? new RedisEventBus(redis, keyPrefix, log, options) : new MemoryEventBus(options);
}
