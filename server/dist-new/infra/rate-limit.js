import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, } from "rate-limiter-flexible";
/** A fixed-window counter per key: in process by default, shared through Redis when configured. */
export class RateLimiter {
    limiter;
    /** `null`: limiting is switched off and every call is allowed without touching a store. */
    constructor(limiter) {
        this.limiter = limiter;
    }
    async consume(key) {
        if (!this.limiter)
            return { allowed: true };
        try {
            await this.limiter.consume(key);
            return { allowed: true };
        }
        catch (rejection) {
            if (rejection instanceof RateLimiterRes) {
                return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
            }
            throw rejection;
        }
    }
}
export function rateLimiterFactory(redis, keyPrefix, enabled) {
    return (rule) => {
        if (!enabled)
            return new RateLimiter(null);
        const options = {
            points: rule.points,
            duration: rule.durationSeconds,
            keyPrefix: `${keyPrefix}rl:${rule.name}`,
        };
        return new RateLimiter(redis
            ? new RateLimiterRedis({ ...options, storeClient: redis, useRedisPackage: false })
            : new RateLimiterMemory(options));
    };
}
//# sourceMappingURL=rate-limit.js.map