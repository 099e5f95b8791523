import { createHash } from "node:crypto";
import { setMaxListeners } from "node:events";
import superjson from "superjson";
import type { Logger } from "../logger.js";
import type { Redis } from "../redis.js";
import {
  DEFAULT_HISTORY,
  DEFAULT_MAX_QUEUED,
  DEFAULT_REPLAY_MAX,
  HISTORY_TTL_SECONDS,
  parseEventId,
  isAfter,
  formatEventId,
  openStream,
  type BusEvent,
  type SubscribeOptions,
  type EventBus,
  type EventBusOptions,
  type EventId,
  type ChannelSource,
} from "./bus.js";

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
