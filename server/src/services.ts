import type { Config } from "./config.js";
import type { Database } from "./infra/db.js";
import type { Logger } from "./infra/logger.js";
import type { Mailer } from "./infra/mailer.js";
import type { PasswordHasher } from "./infra/passwords.js";
import type { RateLimiter, RateLimiterFactory } from "./infra/rate-limit.js";
import { pingRedis, type Redis } from "./infra/redis.js";
import { ApiKeyService } from "./modules/api-keys/service.js";
import { AuthService } from "./modules/auth/service.js";
import { AccessTokens } from "./modules/auth/tokens.js";
import { HealthService } from "./modules/health/service.js";
import { UserService } from "./modules/users/service.js";

export interface Infra {
  config: Config;
  log: Logger;
  database: Database;
  redis: Redis | null;
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
  const rl = config.rateLimit;
  const limiter = (name: string, points: number) =>
    infra.rateLimiter({
      name,
      points: rl.enabled ? points : Number.MAX_SAFE_INTEGER,
      durationSeconds: rl.windowSeconds,
    });
  return {
    auth,
    users: new UserService(db, auth),
    apiKeys: new ApiKeyService(db),
    health: new HealthService(() => database.ping(), redis ? () => pingRedis(redis) : null),
    rateLimits: {
      global: limiter("global", rl.max),
      loginByIp: limiter("login-ip", rl.loginMax),
      loginByEmail: limiter("login-email", rl.loginMax),
      register: limiter("register", rl.registerMax),
      passwordReset: limiter("password-reset", rl.passwordResetMax),
    },
  };
}
