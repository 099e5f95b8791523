import type { Config } from "./config.js";
import type { Database } from "./infra/db.js";
import type { EventBus } from "./infra/events.js";
import type { Logger } from "./infra/logger.js";
import type { Mailer } from "./infra/mailer.js";
import type { PasswordHasher } from "./infra/passwords.js";
import type { RateLimiter, RateLimiterFactory } from "./infra/rate-limit.js";
import { pingRedis, type Redis } from "./infra/redis.js";
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

export interface Infra {
  config: Config;
  log: Logger;
  database: Database;
  redis: Redis | null;
  events: EventBus;
  passwords: PasswordHasher;
  mailer: Mailer;
  rateLimiter: RateLimiterFactory;
}

export interface RateLimits {
  global: RateLimiter;
  loginByIp: RateLimiter;
  loginByEmail: RateLimiter;
  register: RateLimiter;
  passwordReset: RateLimiter;
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
}

export function createServices(infra: Infra): Services {
  const { config, database, redis } = infra;
  const db = database.prisma;
  const accessTokens = new AccessTokens({
    secret: config.auth.jwtSecret,
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    accessTokenTtlSeconds: config.auth.accessTokenTtlSeconds,
  });
  const auth = new AuthService(
    db,
    infra.passwords,
    accessTokens,
    infra.mailer,
    {
      refreshTokenTtlSeconds: config.auth.refreshTokenTtlSeconds,
      passwordResetTtlSeconds: config.auth.passwordResetTtlSeconds,
      publicUrl: config.publicUrl,
    },
    infra.log,
  );
  const marketEvents = new MarketEvents(infra.events, infra.log);
  const rl = config.rateLimit;
  const limiter = (name: string, points: number) =>
    infra.rateLimiter({
      name,
      points,
      durationSeconds: rl.windowSeconds,
    });
  return {
    auth,
    users: new UserService(db, auth),
    apiKeys: new ApiKeyService(db),
    health: new HealthService(() => database.ping(), redis ? () => pingRedis(redis) : null),
    markets: new MarketService(db, marketEvents),
    products: new ProductService(db),
    orders: new OrderService(db, marketEvents),
    posts: new PostService(db, marketEvents),
    rateLimits: {
      global: limiter("global", rl.max),
      loginByIp: limiter("login-ip", rl.loginMax),
      loginByEmail: limiter("login-email", rl.loginMax),
      register: limiter("register", rl.registerMax),
      passwordReset: limiter("password-reset", rl.passwordResetMax),
    },
  };
}
