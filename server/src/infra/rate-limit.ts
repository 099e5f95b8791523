import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from "rate-limiter-flexible";
import type { Redis } from "./redis.js";

export type RateLimitResult = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** A fixed-window counter per key: in process by default, shared through Redis when configured. */
export class RateLimiter {
  /** `null`: limiting is switched off and every call is allowed without touching a store. */
  constructor(private readonly limiter: RateLimiterAbstract | null) {}

  async consume(key: string): Promise<RateLimitResult> {
    if (!this.limiter) return { allowed: true };
    try {
      await this.limiter.consume(key);
      return { allowed: true };
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
      }
      throw rejection;
    }
  }
}

export interface RateLimitRule {
  name: string;
  points: number;
  durationSeconds: number;
}

export type RateLimiterFactory = (rule: RateLimitRule) => RateLimiter;

export function rateLimiterFactory(
  redis: Redis | null,
  keyPrefix: string,
  enabled: boolean,
): RateLimiterFactory {
  return (rule) => {
    if (!enabled) return new RateLimiter(null);
    const options = {
      points: rule.points,
      duration: rule.durationSeconds,
      keyPrefix: `${keyPrefix}rl:${rule.name}`,
    };
    return new RateLimiter(
      redis
        ? new RateLimiterRedis({ ...options, storeClient: redis, useRedisPackage: false })
        : new RateLimiterMemory(options),
    );
  };
}
