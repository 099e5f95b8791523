import type { Logger } from "../logger.js";
import type { Redis } from "../redis.js";
import type { EventBus, EventBusOptions } from "./bus.js";
import { MemoryEventBus } from "./memory.js";
import { RedisEventBus } from "./redis.js";

export type { BusEvent, EventBus, EventBusOptions, SubscribeOptions } from "./bus.js";
export { SubscriberOverflowError } from "./bus.js";
export { MemoryEventBus } from "./memory.js";
export { RedisEventBus } from "./redis.js";

/** The one place that picks the implementation: Redis when configured, else in-process. */
export function createEventBus(
  redis: Redis | null,
  keyPrefix: string,
  log: Logger,
  options: EventBusOptions = {},
): EventBus {
  return redis ? new RedisEventBus(redis, keyPrefix, log, options) : new MemoryEventBus(options);
}
