import { pingRedis } from "./infra/redis.js";
import { ApiKeyService } from "./modules/api-keys/service.js";
import { AuthService } from "./modules/auth/service.js";
import { AccessTokens } from "./modules/auth/tokens.js";
import { HealthService } from "./modules/health/service.js";
import { MarketEvents } from "./modules/markets/events.js";
import { MarketService } from "./modules/markets/service.js";
import { OrderService } from "./modules/orders/service.js";
import { PostService } from "./modules/posts/service.js";
import { ProductService } from "./modules/products/service.js";
import { UserService } from "./modules/users/service.js";
export function createServices(infra) {
    const { config, database, redis, cache, jobs } = infra;
    const db = database.prisma;
    const accessTokens = new AccessTokens({
        secret: config.auth.jwtSecret,
        issuer: config.auth.issuer,
        audience: config.auth.audience,
        accessTokenTtlSeconds: config.auth.accessTokenTtlSeconds,
    });
    const auth = new AuthService(db, infra.passwords, accessTokens, infra.mailer, {
        refreshTokenTtlSeconds: config.auth.refreshTokenTtlSeconds,
        accessTokenTtlSeconds: config.auth.accessTokenTtlSeconds,
        passwordResetTtlSeconds: config.auth.passwordResetTtlSeconds,
        sessionCacheTtlSeconds: config.cache.sessionTtlSeconds,
        publicUrl: config.publicUrl,
    }, infra.log, cache, jobs, database.sql);
    const marketEvents = new MarketEvents(infra.events, infra.log);
    const markets = new MarketService(db, marketEvents, cache, database.sql);
    const rl = config.rateLimit;
    const limiter = (name, points) => infra.rateLimiter({
        name,
        points,
        durationSeconds: rl.windowSeconds,
    });
    return {
        auth,
        users: new UserService(db, auth, markets, cache, database.sql),
        apiKeys: new ApiKeyService(db, cache),
        health: new HealthService(() => database.ping(), redis ? () => pingRedis(redis) : null),
        markets,
        products: new ProductService(db, markets, cache, database.sql),
        orders: new OrderService(db, marketEvents, markets, jobs, infra.mailer),
        posts: new PostService(db, marketEvents),
        rateLimits: {
            global: limiter("global", rl.max),
            loginByIp: limiter("login-ip", rl.loginMax),
            loginByEmail: limiter("login-email", rl.loginMax),
            register: limiter("register", rl.registerMax),
            passwordReset: limiter("password-reset", rl.passwordResetMax),
        },
        jobs,
        metrics: infra.metrics,
    };
}
//# sourceMappingURL=services.js.map