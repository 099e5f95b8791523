import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from "rate-limiter-flexible";
import { DependencyUnavailableError } from "../shared/errors.js";
import type { Logger } from "./logger.js";
import type { Redis } from "./redis.js";

export type RateLimitResult = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** What a limiter does when its store (Redis) fails and no in-process insurance took over. */
type OnStoreFailure = { mode: "open"; log: Logger } | { mode: "closed" } | null;

/** A fixed-window counter per key: in process by default, shared through Redis when configured. */
export class RateLimiter {
  private lastWarning = 0;

  /** `null`: limiting is switched off and every call is allowed without touching a store. */
  constructor(
    private readonly limiter: RateLimiterAbstract | null,
    private readonly onStoreFailure: OnStoreFailure = null,
    /** Where a failed refund (`reward`, `delete`) is reported. */
    private readonly log: Logger | null = null,
  ) {}

  /**
   * Gives back points a call took (for limits that count only some outcomes: consume first,
   * so concurrent calls cannot slip past the limit, and give back when the outcome does not
   * count). Best effort: a store failure is logged, never thrown, as the call it follows has
   * succeeded.
   */
  async reward(key: string, points = 1): Promise<void> {
    if (!this.limiter) return;
    try {
      await this.limiter.reward(key, points);
    } catch (error) {
      this.refundFailed(error);
    }
  }

  /** Forgets a key's count (best effort, as `reward`). */
  async delete(key: string): Promise<void> {
    if (!this.limiter) return;
    try {
      await this.limiter.delete(key);
    } catch (error) {
      this.refundFailed(error);
    }
  }

  private refundFailed(error: unknown): void {
    const now = Date.now();
    if (now - this.lastWarning <= 10_000) return;
    this.lastWarning = now;
    this.log?.warn(
      { err: { message: error instanceof Error ? error.message : String(error) } },
      "rate limiting store unavailable: a count could not be given back",
    );
  }

  async consume(key: string): Promise<RateLimitResult> {
    if (!this.limiter) return { allowed: true };
    try {
      await this.limiter.consume(key);
      return { allowed: true };
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
      }
      if (this.onStoreFailure?.mode === "open") {
        const now = Date.now();
        if (now - this.lastWarning > 10_000) {
          this.lastWarning = now;
          this.onStoreFailure.log.warn(
            { err: rejection },
            "rate limiting store unavailable: letting calls through (RATE_LIMIT_ON_REDIS_FAILURE=open)",
          );
        }
        return { allowed: true };
      }
      if (this.onStoreFailure?.mode === "closed") {
        throw new DependencyUnavailableError("Rate limiting is unavailable; retry shortly");
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

/**
 * While Redis cannot be reached: "memory" limits each instance on its own, "open" lets
 * calls through (with a warning), "closed" refuses them with SERVICE_UNAVAILABLE.
 */
export type RedisFailurePolicy = "memory" | "open" | "closed";

export function rateLimiterFactory(
  redis: Redis | null,
  keyPrefix: string,
  settings: { readonly enabled: boolean; readonly onRedisFailure: RedisFailurePolicy },
  log: Logger,
): RateLimiterFactory {
  return (rule) => {
    if (!settings.enabled) return new RateLimiter(null);
    const options = {
      points: rule.points,
      duration: rule.durationSeconds,
      keyPrefix: `${keyPrefix}rl:${rule.name}`,
    };
    if (!redis) return new RateLimiter(new RateLimiterMemory(options));
    const onRedisFailure = settings.onRedisFailure;
    return new RateLimiter(
      new RateLimiterRedis({
        ...options,
        storeClient: redis,
        useRedisPackage: false,
        // Not connected: fail (or fall back) at once instead of trying a dead connection.
        rejectIfRedisNotReady: true,
        // "memory": while Redis is away, each instance counts on its own with the same rule.
        ...(onRedisFailure === "memory" ? { insuranceLimiter: new RateLimiterMemory(options) } : {}),
      }),
      onRedisFailure === "memory"
        ? null
        : onRedisFailure === "open"
          ? { mode: "open", log }
          : { mode: "closed" },
      log,
    );
  };
}
