import type { Infra } from "./infra.js";
import type { JobQueue } from "./infra/jobs.js";
import type { Metrics } from "./infra/metrics.js";
import type { RateLimiter } from "./infra/rate-limit.js";
import { pingRedis } from "./infra/redis.js";
import { ApiKeyService } from "./modules/api-keys/service.js";
import { AuthService } from "./modules/auth/service.js";
import { SessionEvents } from "./modules/auth/session-events.js";
import { AccessTokens } from "./modules/auth/tokens.js";
import { HealthService } from "./modules/health/service.js";
import { MarketEvents } from "./modules/markets/events.js";
import { MarketService } from "./modules/markets/service.js";
import { OrderService } from "./modules/orders/service.js";
import { PostService } from "./modules/posts/service.js";
import { ProductService } from "./modules/products/service.js";
import { UserService } from "./modules/users/service.js";
import { OpenStreams } from "./shared/open-streams.js";

export type { Infra };

export interface RateLimits {
  global: RateLimiter;
  /** Every `auth.login` call, per IP. */
  loginByIp: RateLimiter;
  /** Failed sign-ins per "email IP" (a successful one clears its key). */
  loginFailuresByEmailIp: RateLimiter;
  /** Failed sign-ins per email, from every IP. */
  loginFailuresByEmail: RateLimiter;
  register: RateLimiter;
  /** `auth.requestPasswordReset` per IP. */
  passwordReset: RateLimiter;
  /** Reset mails asked for per email, shared by every IP (and instance, with Redis). */
  passwordResetByEmail: RateLimiter;
  /** `auth.resetPassword` and `auth.changePassword` per IP (each its own key space). */
  passwordChange: RateLimiter;
}

/** Every service, built once at startup and handed to each request's context. */
export interface Services {
  auth: AuthService;
  users: UserService;
  apiKeys: ApiKeyService;
  health: HealthService;
  markets: MarketService;
  products: ProductService;
  orders: OrderService;
  posts: PostService;
  rateLimits: RateLimits;
  /** The job queue, for the admin's view of it (`jobs.stats`). */
  jobs: JobQueue;
  /** The event streams open on this instance: caps, expiry, ending them on revocation. */
  streams: OpenStreams;
  /** Announcements that a user's sessions changed, from every instance. */
  sessionEvents: SessionEvents;
  metrics: Metrics;
}

export function createServices(infra: Infra): Services {
  const { config, database, redis, cache, jobs } = infra;
  const db = database.prisma;
  const sessionEvents = new SessionEvents(infra.events);
  const accessTokens = new AccessTokens({
    secret: config.auth.jwtSecret,
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    accessTokenTtlSeconds: config.auth.accessTokenTtlSeconds,
  });
  const auth = new AuthService({
    db,
    passwords: infra.passwords,
    accessTokens,
    mailer: infra.mailer,
    settings: {
      refreshTokenTtlSeconds: config.auth.refreshTokenTtlSeconds,
      refreshReuseGraceSeconds: config.auth.refreshReuseGraceSeconds,
      accessTokenTtlSeconds: config.auth.accessTokenTtlSeconds,
      passwordResetTtlSeconds: config.auth.passwordResetTtlSeconds,
      sessionCacheTtlSeconds: config.cache.sessionTtlSeconds,
      publicUrl: config.publicUrl,
    },
    log: infra.log,
    cache,
    jobs,
    sql: database.sql,
    sessionEvents,
  });
  const marketEvents = new MarketEvents(infra.events, infra.log);
  const markets = new MarketService(db, marketEvents, cache, database.sql);
  const rl = config.rateLimit;
  const limiter = (name: string, points: number, durationSeconds = rl.windowSeconds) =>
    infra.rateLimiter({ name, points, durationSeconds });
  return {
    auth,
    users: new UserService(db, auth, markets, cache, database.sql),
    apiKeys: new ApiKeyService(db, cache),
    health: new HealthService(() => database.ping(), redis ? () => pingRedis(redis) : null),
    markets,
    products: new ProductService(db, markets, cache, database.sql),
    orders: new OrderService(db, marketEvents, markets, database.sql, infra.mailer),
    posts: new PostService(db, marketEvents),
    rateLimits: {
      global: limiter("global", rl.max),
      loginByIp: limiter("login-ip", rl.loginMax),
      loginFailuresByEmailIp: limiter("login-fail-email-ip", rl.loginEmailIpMax),
      loginFailuresByEmail: limiter("login-fail-email", rl.loginEmailMax),
      register: limiter("register", rl.registerMax),
      passwordReset: limiter("password-reset", rl.passwordResetMax),
      passwordResetByEmail: limiter(
        "password-reset-email",
        rl.passwordResetEmailMax,
        rl.passwordResetEmailWindowSeconds,
      ),
      passwordChange: limiter("password-change", rl.passwordChangeMax),
    },
    jobs,
    streams: new OpenStreams({ perIp: config.streams.perIp, perPrincipal: config.streams.perPrincipal }),
    sessionEvents,
    metrics: infra.metrics,
  };
}
