import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  connectRedis,
  createLogger,
  MarketEvents,
  MemoryEventBus,
  RedisEventBus,
  type BusEvent,
} from "@agora/server/testing";
import { startOwnedRedis } from "./support/services.js";

/** The first `count` events a subscription yields (replay first, then live); fewer if it ends. */
async function take(stream: AsyncIterable<BusEvent>, count: number): Promise<BusEvent[]> {
  const out: BusEvent[] = [];
  if (count === 0) return out;
  for await (const event of stream) {
    out.push(event);
    if (out.length >= count) break;
  }
  return out;
}

/** Every subscription here ends by itself after 2 s, so a missing event fails instead of hanging. */
const within = () => ({ signal: AbortSignal.timeout(2000) });

/** Publishes `count` events to `channel` and returns the id of the first, as a subscriber saw it. */
async function publishSome(bus: MemoryEventBus, channel: string, count: number): Promise<string> {
  const stream = await bus.subscribe(channel, within());
  for (let i = 0; i < count; i += 1) await bus.publish(channel, { channel, i });
  const [first] = await take(stream, 1);
  if (!first) throw new Error(`no event seen on ${channel}`);
  return first.id;
}

describe("the in-process event bus's replay history", () => {
  it("stays within maxRetained events however many channels publish, forgetting the quietest first", async () => {
    const bus = new MemoryEventBus({ historySize: 50, maxRetained: 500 });
    for (let c = 0; c < 100; c += 1) {
      for (let i = 0; i < 20; i += 1) await bus.publish(`market:${String(c)}`, { i });
      expect(bus.retainedEvents).toBeLessThanOrEqual(500);
    }
    // The most recently published channels still replay their whole history...
    expect(
      await take(await bus.subscribe("market:99", { lastEventId: "0-0", ...within() }), 20),
    ).toHaveLength(20);
    // ...the earliest ones were forgotten.
    const replay = await bus.subscribe("market:0", { lastEventId: "0-0", signal: AbortSignal.timeout(200) });
    expect(await take(replay, 1)).toEqual([]);
    await bus.close();
  });

  it("never forgets a channel someone listens to", async () => {
    const bus = new MemoryEventBus({ historySize: 50, maxRetained: 100 });
    // Listening from here on; its events are read after the flood below.
    const live = await bus.subscribe("market:kept", within());
    for (let i = 0; i < 10; i += 1) await bus.publish("market:kept", { i });
    for (let c = 0; c < 50; c += 1) {
      for (let i = 0; i < 10; i += 1) await bus.publish(`market:${String(c)}`, { i });
    }
    expect(bus.retainedEvents).toBeLessThanOrEqual(100);
    const replayed = await take(await bus.subscribe("market:kept", { lastEventId: "0-0", ...within() }), 10);
    expect(replayed.map((e) => e.data)).toEqual(Array.from({ length: 10 }, (_, i) => ({ i })));
    expect(await take(live, 10)).toHaveLength(10);
    await bus.close();
  });

  it("holds a channel only while it is listened to or holds history", async () => {
    const bus = new MemoryEventBus({ historySize: 50, maxRetained: 100 });
    for (let c = 0; c < 200; c += 1) {
      const name = `market:${String(c)}`;
      if (c % 2 === 0) {
        // Read one event, then the subscription ends: the channel keeps its history.
        const stream = await bus.subscribe(name, within());
        await bus.publish(name, { c });
        expect(await take(stream, 1)).toHaveLength(1);
      } else {
        // Listened to, never published to, then the subscription ends: nothing to keep.
        const stream = await bus.subscribe(name, { signal: AbortSignal.timeout(5) });
        expect(await take(stream, 1)).toEqual([]);
      }
    }
    expect(bus.channelCount).toBe(100);
    expect(bus.retainedEvents).toBe(100);
    // Past maxRetained, every channel nobody listens to goes; the listened ones stay whole.
    const listened = await Promise.all(
      Array.from({ length: 20 }, (_, i) => bus.subscribe(`listened:${String(i)}`, within())),
    );
    for (let i = 0; i < 20; i += 1)
      for (let n = 0; n < 10; n += 1) await bus.publish(`listened:${String(i)}`, { n });
    expect(bus.channelCount).toBe(20);
    expect(bus.retainedEvents).toBe(200);
    for (const stream of listened) expect(await take(stream, 10)).toHaveLength(10);
    await bus.close();
  });

  it("gives a forgotten channel's new events ids after the old ones, so a resume skips nothing", async () => {
    const bus = new MemoryEventBus({ historySize: 50, maxRetained: 100 });
    const before = await publishSome(bus, "market:a", 5);
    for (let c = 0; c < 30; c += 1) {
      for (let i = 0; i < 10; i += 1) await bus.publish(`market:${String(c)}`, { i });
    }
    await bus.publish("market:a", { after: true });
    const resumed = await take(await bus.subscribe("market:a", { lastEventId: before, ...within() }), 1);
    expect(resumed.map((e) => e.data)).toEqual([{ after: true }]);
    await bus.close();
  });
});

describe.runIf(process.env.REDIS_URL)("the Redis event bus", () => {
  const url = process.env.REDIS_URL ?? "";
  const log = createLogger("silent");

  it("reads back what was announced while its subscriber connection was down, once and in order", async () => {
    const redis = await connectRedis(url, log, 1000);
    const other = await connectRedis(url, log, 1000);
    const prefix = `agora-test:${randomUUID()}:`;
    const listening = new RedisEventBus(redis, prefix, log);
    const publishing = new RedisEventBus(other, prefix, log);
    try {
      const stream = await listening.subscribe("market:gap", { signal: AbortSignal.timeout(10_000) });
      for (let i = 0; i < 3; i += 1) await publishing.publish("market:gap", { i });
      // Drop the listening process's subscriber connection (ioredis reconnects by itself) and
      // publish meanwhile: those announcements reach nobody.
      const clients = await other.client("LIST");
      const pubsub = String(clients)
        .split("\n")
        .filter((line) => / sub=1 /.test(line))
        .map((line) => /\bid=(\d+)/.exec(line)?.[1])
        .filter((id): id is string => id !== undefined);
      expect(pubsub.length).toBeGreaterThan(0);
      for (const id of pubsub) await other.client("KILL", "ID", id);
      for (let i = 3; i < 8; i += 1) await publishing.publish("market:gap", { i });
      // Nothing is published after this: the lost ones must come from the stream itself.
      const events = await take(stream, 8);
      expect(events.map((e) => e.data)).toEqual(Array.from({ length: 8 }, (_, i) => ({ i })));
      const ids = events.map((e) => e.id);
      expect(new Set(ids).size).toBe(8);
    } finally {
      await listening.close();
      await publishing.close();
      await redis.quit();
      await other.quit();
    }
  });

  it("renews its subscriptions after reconnecting to a Redis that froze as it came back", async () => {
    // A Redis of this test's own: restarted, then frozen before the subscriber connection is
    // back, so that connection comes back to a Redis that does not answer its SUBSCRIBE.
    const owned = await startOwnedRedis();
    const redis = await connectRedis(owned.url, log, 250);
    const bus = new RedisEventBus(redis, "agora-test:", log);
    try {
      const stream = await bus.subscribe("market:frozen", { signal: AbortSignal.timeout(20_000) });
      await owned.stop();
      await owned.start();
      owned.freeze();
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      owned.resume();
      const publisher = await connectRedis(owned.url, log, 1_000);
      try {
        const publishing = new RedisEventBus(publisher, "agora-test:", log);
        // Published until the subscription is back, then the stream must deliver it.
        const first = take(stream, 1);
        for (let i = 0; i < 100; i += 1) {
          await publishing.publish("market:frozen", { i });
          const done = await Promise.race([
            first.then(() => true),
            new Promise((r) => setTimeout(r, 100, false)),
          ]);
          if (done) break;
        }
        expect(await first).toHaveLength(1);
        await publishing.close();
      } finally {
        await publisher.quit();
      }
    } finally {
      await bus.close();
      await redis.quit().catch(() => undefined);
      await owned.destroy();
    }
  }, 60_000);
});

describe("market events", () => {
  it("gives an order.placed published before marketVolumeCents existed its marketVolumeCents", async () => {
    const bus = new MemoryEventBus({ historySize: 50, maxRetained: 100 });
    const events = new MarketEvents(bus, createLogger("silent"));
    const stream = await events.subscribe("m1", within());
    // What an older instance publishes, or a stream kept from before the field was added.
    await bus.publish("market:m1", { type: "order.placed", orderId: "o1", volumeCents: 700 });
    await events.publish("m1", {
      type: "order.placed",
      orderId: "o2",
      marketVolumeCents: 900,
      volumeCents: 900,
    });
    const seen: unknown[] = [];
    for await (const { event } of stream) {
      seen.push(event);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual([
      { type: "order.placed", orderId: "o1", marketVolumeCents: 700, volumeCents: 700 },
      { type: "order.placed", orderId: "o2", marketVolumeCents: 900, volumeCents: 900 },
    ]);
    await bus.close();
  });
});
