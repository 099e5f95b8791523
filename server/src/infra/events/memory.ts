import { setMaxListeners } from "node:events";
import {
  DEFAULT_HISTORY,
  DEFAULT_MAX_QUEUED,
  DEFAULT_REPLAY_MAX,
  DEFAULT_MAX_RETAINED,
  parseEventId,
  isAfter,
  openStream,
  type BusEvent,
  type SubscribeOptions,
  type EventBus,
  type EventBusOptions,
  type ChannelSource,
} from "./bus.js";

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
