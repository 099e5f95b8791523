import { createHash } from "node:crypto";
import { setMaxListeners } from "node:events";
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

const DEFAULT_HISTORY = 200;
const DEFAULT_MAX_QUEUED = 1000;
const DEFAULT_REPLAY_MAX = 100;
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

function formatEventId(id: EventId): string {
  return `${String(id[0])}-${String(id[1])}`;
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
  private readonly replayMax: number;
  /** Events held in all channels' histories. */
  private retained = 0;
  /**
   * One sequence for every channel: a channel forgotten and started again later still gives
   * ids after those its subscribers saw, so their resume skips nothing new.
   */
  private seq = 0;

  constructor(options: EventBusOptions = {}) {
    // Every open subscription listens for the bus closing: no cap on how many may.
    setMaxListeners(0, this.closing.signal);
    this.historySize = options.historySize ?? DEFAULT_HISTORY;
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    this.maxRetained = options.maxRetained ?? DEFAULT_MAX_RETAINED;
    this.replayMax = options.replayMax ?? DEFAULT_REPLAY_MAX;
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
      history: (after) => {
        const missed = (this.channels.get(channel)?.history ?? []).filter((e) => {
          const id = parseEventId(e.id);
          return id !== null && isAfter(id, after);
        });
        return Promise.resolve(this.replayMax > 0 ? missed.slice(-this.replayMax) : []);
      },
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
 * Appends an event to its channel's capped stream and announces it, in one step: Redis runs a
 * script alone, so the announcements of every publisher on every instance go out in the order
 * of their stream ids. Each announcement names the entry before it (`p`), so a receiver can
 * tell when it missed one (an announcement is lost while a subscriber connection is down).
 */
const PUBLISH_SCRIPT = `
local before = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'd', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
local prev = '0-0'
if before[1] then prev = before[1][1] end
redis.call('PUBLISH', KEYS[1], cjson.encode({ id = id, p = prev, d = ARGV[2] }))
return id
`;
const PUBLISH_SCRIPT_SHA = createHash("sha1").update(PUBLISH_SCRIPT).digest("hex");
/** After a failed read of a stream, the channel reads it again this much later. */
const CATCH_UP_RETRY_MS = 500;
/** Stream entries read per round trip when catching up. */
const CATCH_UP_PAGE = 500;

interface Announcement {
  readonly id: EventId;
  /** The entry before this one in the stream when it was added (`0-0` for the first). */
  readonly prev: EventId;
  readonly payload: string;
}

/**
 * A channel this process listens to. `cursor` is the last stream entry handed to its
 * listeners; every later entry is handed to them exactly once, in stream order: straight from
 * its announcement when that announcement follows the cursor, otherwise read back from the
 * stream (an announcement was missed, or the subscriber connection was re-established).
 */
interface RedisChannel {
  readonly key: string;
  readonly listeners: Set<(event: BusEvent) => void>;
  /** Null until the stream's position is known, just after subscribing. */
  cursor: EventId | null;
  /** Announcements not handled yet, in the order they arrived. */
  readonly pending: Announcement[];
  /** The stream is being read back; announcements wait meanwhile. */
  catchingUp: boolean;
  /** Read the stream once more when the current read is done. */
  catchUpAgain: boolean;
  retryTimer: NodeJS.Timeout | null;
  /** Resolves once Redis has confirmed the subscription and the cursor is set. */
  ready: Promise<void>;
}

/**
 * Many processes: each event is appended to a capped Redis stream (the replayable history,
 * whose ids are the event ids) and announced on a pub/sub channel by the same script. One
 * dedicated subscriber connection per process fans announcements out to local subscriptions,
 * reading the stream back to fill any gap, so every subscriber receives every event of its
 * channel once and in stream order, whichever instances publish.
 */
export class RedisEventBus implements EventBus {
  private subscriber: Redis | null = null;
  private readonly channels = new Map<string, RedisChannel>();
  private readonly closing = new AbortController();
  private readonly historySize: number;
  private readonly maxQueued: number;
  private readonly replayMax: number;
  private lastWarning = 0;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
    options: EventBusOptions = {},
  ) {
    setMaxListeners(0, this.closing.signal);
    this.historySize = options.historySize ?? DEFAULT_HISTORY;
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    this.replayMax = options.replayMax ?? DEFAULT_REPLAY_MAX;
  }

  private key(channel: string): string {
    return `${this.prefix}events:${channel}`;
  }

  async publish(channel: string, data: unknown): Promise<void> {
    if (this.closing.signal.aborted) return;
    const key = this.key(channel);
    // A quiet market's history expires: nobody resumes from a day-old event.
    const args = [String(this.historySize), superjson.stringify(data), String(HISTORY_TTL_SECONDS)];
    try {
      try {
        await this.redis.evalsha(PUBLISH_SCRIPT_SHA, 1, key, ...args);
      } catch (error) {
        // Redis does not know the script yet (first use, or after a restart): nothing ran.
        if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
        await this.redis.eval(PUBLISH_SCRIPT, 1, key, ...args);
      }
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
    // The subscriptions are renewed here after a reconnection, not by ioredis: its own renewal
    // is a SUBSCRIBE nobody awaits, whose timeout (a Redis frozen as the connection came back)
    // would be an unhandled rejection.
    const subscriber = this.redis.duplicate({
      enableOfflineQueue: true,
      lazyConnect: false,
      enableReadyCheck: false,
      autoResubscribe: false,
    });
    subscriber.on("error", (err: Error) => {
      this.log.warn({ err: { message: err.message } }, "redis subscriber error");
    });
    subscriber.on("message", (key: string, message: string) => {
      this.onAnnouncement(key, message);
    });
    subscriber.on("ready", () => {
      void this.resubscribe(subscriber);
    });
    this.subscriber = subscriber;
    return subscriber;
  }

  /**
   * After a (re)connection: subscribes to every channel listened to, then reads each stream
   * back, since announcements made while the connection was down are lost. A SUBSCRIBE that
   * times out (Redis frozen) is sent again while the connection stays up.
   */
  private async resubscribe(subscriber: Redis): Promise<void> {
    for (;;) {
      const keys = [...this.channels.keys()];
      if (keys.length === 0 || this.closing.signal.aborted) return;
      try {
        await subscriber.subscribe(...keys);
        break;
      } catch (err) {
        if (subscriber.status !== "ready") return; // its next "ready" tries again
        this.warnOnce(err, "renewing event subscriptions failed: retrying");
        await new Promise((resolve) => setTimeout(resolve, CATCH_UP_RETRY_MS));
      }
    }
    for (const channel of this.channels.values()) this.catchUp(channel);
  }

  private onAnnouncement(key: string, message: string): void {
    const channel = this.channels.get(key);
    if (!channel) return;
    const announcement = decodeAnnouncement(message);
    if (!announcement) {
      this.log.warn({ key }, "malformed event announcement ignored");
      return;
    }
    channel.pending.push(announcement);
    this.drain(channel);
  }

  /** Hands the waiting announcements on in order, or reads the stream back at a gap. */
  private drain(channel: RedisChannel): void {
    if (channel.catchingUp) return;
    for (;;) {
      const cursor = channel.cursor;
      const next = channel.pending[0];
      if (cursor === null || next === undefined) return;
      if (!isAfter(next.id, cursor)) {
        channel.pending.shift(); // read back from the stream already
        continue;
      }
      if (isAfter(next.prev, cursor)) {
        this.catchUp(channel); // an entry between the cursor and this one was missed
        return;
      }
      channel.pending.shift();
      this.deliver(channel, next.id, next.payload);
    }
  }

  private deliver(channel: RedisChannel, id: EventId, payload: string): void {
    channel.cursor = id;
    let data: unknown;
    try {
      data = superjson.parse(payload);
    } catch {
      this.log.warn({ key: channel.key }, "malformed event skipped");
      return;
    }
    const event: BusEvent = { id: formatEventId(id), data };
    for (const listener of channel.listeners) listener(event);
  }

  /** Reads the stream after the cursor and delivers what it holds, then the announcements left. */
  private catchUp(channel: RedisChannel): void {
    if (channel.cursor === null) return;
    if (channel.catchingUp) {
      channel.catchUpAgain = true;
      return;
    }
    channel.catchingUp = true;
    channel.catchUpAgain = false;
    this.readBack(channel).then(
      () => {
        channel.catchingUp = false;
        if (channel.catchUpAgain) this.catchUp(channel);
        else this.drain(channel);
      },
      (err: unknown) => {
        channel.catchingUp = false;
        this.warnOnce(err, "reading an event stream back failed: retrying");
        if (this.channels.get(channel.key) !== channel || this.closing.signal.aborted) return;
        channel.retryTimer ??= setTimeout(() => {
          channel.retryTimer = null;
          if (this.channels.get(channel.key) === channel) this.catchUp(channel);
        }, CATCH_UP_RETRY_MS);
      },
    );
  }

  private async readBack(channel: RedisChannel): Promise<void> {
    for (;;) {
      const cursor = channel.cursor;
      if (cursor === null || this.channels.get(channel.key) !== channel) return;
      const entries = await this.redis.xrange(
        channel.key,
        `(${formatEventId(cursor)}`,
        "+",
        "COUNT",
        CATCH_UP_PAGE,
      );
      for (const [rawId, fields] of entries) {
        const id = parseEventId(rawId);
        const current = channel.cursor;
        if (!id || (current !== null && !isAfter(id, current))) continue;
        const payload = fields[fields.indexOf("d") + 1];
        if (payload === undefined) channel.cursor = id;
        else this.deliver(channel, id, payload);
      }
      if (entries.length < CATCH_UP_PAGE) return;
    }
  }

  /** Subscribes, then takes the stream's last entry as the starting point. */
  private async open(subscriber: Redis, channel: RedisChannel): Promise<void> {
    await subscriber.subscribe(channel.key);
    const last = await this.redis.xrevrange(channel.key, "+", "-", "COUNT", 1);
    channel.cursor = parseEventId(last[0]?.[0] ?? "0-0") ?? [0, 0];
    this.drain(channel);
  }

  private warnOnce(err: unknown, message: string): void {
    const now = Date.now();
    if (now - this.lastWarning < 10_000) return;
    this.lastWarning = now;
    this.log.warn({ err: { message: err instanceof Error ? err.message : String(err) } }, message);
  }

  subscribe(channel: string, options: SubscribeOptions = {}): Promise<AsyncIterable<BusEvent>> {
    const key = this.key(channel);
    const source: ChannelSource = {
      listen: async (deliver) => {
        const subscriber = this.connectSubscriber();
        let state = this.channels.get(key);
        if (!state) {
          const created: RedisChannel = {
            key,
            listeners: new Set(),
            cursor: null,
            pending: [],
            catchingUp: false,
            catchUpAgain: false,
            retryTimer: null,
            ready: Promise.resolve(),
          };
          created.ready = this.open(subscriber, created);
          this.channels.set(key, created);
          state = created;
        }
        const joined = state;
        joined.listeners.add(deliver);
        const unlisten = async () => {
          joined.listeners.delete(deliver);
          if (joined.listeners.size > 0 || this.channels.get(key) !== joined) return;
          this.channels.delete(key);
          if (joined.retryTimer) clearTimeout(joined.retryTimer);
          if (subscriber.status === "ready") await subscriber.unsubscribe(key).catch(() => undefined);
        };
        // Resolves once Redis confirms: from then on no event can be missed.
        try {
          await joined.ready;
        } catch (error) {
          // Nobody will ever call unlisten: a listener left here would keep this process
          // subscribed to the channel for good.
          await unlisten();
          throw error;
        }
        return unlisten;
      },
      history: async (after) => {
        if (this.replayMax === 0) return [];
        // The newest `replayMax` after `after`, oldest first.
        const entries = (
          await this.redis.xrevrange(key, "+", `(${formatEventId(after)}`, "COUNT", this.replayMax)
        ).reverse();
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
    for (const channel of this.channels.values()) {
      if (channel.retryTimer) clearTimeout(channel.retryTimer);
    }
    this.channels.clear();
    if (subscriber) await subscriber.quit().catch(() => undefined);
  }
}

function decodeAnnouncement(message: string): Announcement | null {
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
      const id = parseEventId(parsed.id);
      // Without `p` (published by an older version, during a rolling upgrade) the entry
      // before it is unknown: naming the event itself makes the receiver read the stream back.
      const prev = "p" in parsed && typeof parsed.p === "string" ? parseEventId(parsed.p) : id;
      return id && prev ? { id, prev, payload: parsed.d } : null;
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
