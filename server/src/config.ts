import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import path from "node:path";
import proxyAddr from "proxy-addr";
import { z } from "zod";
import type { DatabaseSettings } from "./infra/database/db.js";
import type { RedisFailurePolicy } from "./infra/rate-limit.js";
import { repoRoot } from "./shared/paths.js";

/** The repository root: the default home of `.data/` and `prisma.config.ts`. */

const bool = z
  .enum(["true", "false", "1", "0"])
  .transform((v) => v === "true" || v === "1")
  .optional();
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));

const TRUST_PROXY_HELP =
  "write the number of proxies in front of the server (e.g. 1), or their addresses: comma-separated IPs, CIDR ranges or loopback, linklocal, uniquelocal";

/**
 * TRUST_PROXY: which hops of X-Forwarded-For to believe. A number is how many proxies are in
 * front (0: none, the socket's address is the client); a list names the proxies' addresses.
 * `true` is one proxy and `false` none: trusting every hop let a client pick its own address.
 */
const trustProxy = z
  .string()
  .optional()
  .transform((raw, ctx): number | string[] => {
    const value = raw?.trim() ?? "";
    if (value === "" || value === "false") return 0;
    if (value === "true") return 1;
    if (/^\d+$/.test(value)) {
      const hops = Number(value);
      if (hops <= 32) return hops;
      ctx.addIssue({ code: "custom", message: `at most 32 proxies; ${TRUST_PROXY_HELP}` });
      return z.NEVER;
    }
    const entries = value.split(",").map((entry) => entry.trim());
    const bad = entries.find((entry) => {
      if (entry === "" || /^[-+]?\d+(\.\d+)?$/.test(entry)) return true;
      try {
        proxyAddr.compile(entry);
        return false;
      } catch {
        return true;
      }
    });
    if (bad === undefined) return entries;
    ctx.addIssue({
      code: "custom",
      message: `"${bad}" is not a proxy address or range; ${TRUST_PROXY_HELP}`,
    });
    return z.NEVER;
  });

/** The URL itself is never repeated in the message: it may hold a password. */
const postgresUrl = z.url({
  protocol: /^postgres(ql)?$/,
  error:
    "must be a postgres:// or postgresql:// URL (Agora runs on PostgreSQL only), e.g. postgresql://user:password@localhost:5432/agora",
});

const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  HOST: z.string().min(1).default("0.0.0.0"),
  PORT: int(0, 65535).default(3000),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  TRUST_PROXY: trustProxy,

  DATABASE_URL: optionalString.pipe(postgresUrl.optional()),
  DATABASE_DIRECT_URL: optionalString.pipe(postgresUrl.optional()),
  DB_POOLER: z.enum(["none", "transaction"]).default("none"),
  DATA_DIR: optionalString,
  EMBEDDED_DB_PORT: int(0, 65535).default(0),
  MIGRATE_ON_START: bool,
  DB_POOL_SIZE: int(1, 100).default(10),
  DB_QUERY_TIMEOUT_MS: int(100, 600_000).default(10_000),
  DB_POOL_TIMEOUT_MS: int(100, 600_000).default(10_000),

  REDIS_URL: optionalString.pipe(z.url({ protocol: /^rediss?$/ }).optional()),
  REDIS_KEY_PREFIX: z.string().default("agora:"),
  REDIS_COMMAND_TIMEOUT_MS: int(10, 60_000).default(250),

  JWT_SECRET: optionalString.pipe(z.string().min(32, "must be at least 32 characters").optional()),
  JWT_ISSUER: z.string().min(1).default("agora"),
  JWT_AUDIENCE: z.string().min(1).default("agora-api"),
  ACCESS_TOKEN_TTL_SECONDS: int(10, 86_400).default(900),
  REFRESH_TOKEN_TTL_SECONDS: int(60, 31_536_000).default(2_592_000),
  REFRESH_TOKEN_REUSE_GRACE_SECONDS: int(0, 60).default(5),
  PASSWORD_RESET_TTL_SECONDS: int(60, 86_400).default(3600),
  BCRYPT_COST: int(4, 15).default(12),
  // One core stays with the event loop: bcrypt on every core would stall every other request.
  PASSWORD_WORKERS: int(1, 32).default(Math.max(1, availableParallelism() - 1)),
  PASSWORD_QUEUE_MAX: int(1, 100_000).default(64),
  PASSWORD_WORKER_NICE: int(0, 19).default(10),

  // Origins are matched exactly, scheme, host and port: http://localhost:5173 and
  // http://127.0.0.1:5173 are different origins. A refused origin is logged once (http/front.ts).
  CORS_ORIGINS: z
    .string()
    .default("")
    .transform((v) =>
      v
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    )
    .refine((origins) => !origins.includes("*") || origins.length === 1, {
      message: '"*" (any origin, without credentials) stands alone; or list the origins instead',
    }),

  RATE_LIMIT_ENABLED: bool,
  RATE_LIMIT_WINDOW_SECONDS: int(1, 86_400).default(60),
  RATE_LIMIT_MAX: int(1, 1_000_000).default(600),
  RATE_LIMIT_LOGIN_MAX: int(1, 1_000_000).default(10),
  RATE_LIMIT_LOGIN_EMAIL_IP_MAX: int(1, 1_000_000).default(5),
  RATE_LIMIT_LOGIN_EMAIL_MAX: int(1, 1_000_000).default(50),
  RATE_LIMIT_REGISTER_MAX: int(1, 1_000_000).default(10),
  RATE_LIMIT_PASSWORD_RESET_MAX: int(1, 1_000_000).default(5),
  RATE_LIMIT_PASSWORD_RESET_EMAIL_MAX: int(1, 1_000_000).default(3),
  RATE_LIMIT_PASSWORD_RESET_EMAIL_WINDOW_SECONDS: int(1, 86_400).default(3600),
  RATE_LIMIT_PASSWORD_CHANGE_MAX: int(1, 1_000_000).default(10),
  RATE_LIMIT_ON_REDIS_FAILURE: z.enum(["memory", "open", "closed"]).default("memory"),

  SSE_MAX_STREAMS_PER_IP: int(1, 100_000).default(32),
  SSE_MAX_STREAMS_PER_USER: int(1, 100_000).default(16),
  SSE_REPLAY_MAX: int(0, 1000).default(100),
  HTTP_MAX_CONNECTIONS: int(16, 1_000_000).optional(),
  TRPC_ADAPTER: z.enum(["fast", "official"]).default("fast"),

  SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(10_000),
  SHUTDOWN_DELAY_MS: int(0, 600_000).optional(),
  WEB_CONCURRENCY: int(1, 64).default(1),

  ADMIN_EMAIL: optionalString.pipe(z.email().optional()),
  ADMIN_PASSWORD: optionalString,
  ADMIN_USERNAME: z.string().default("admin"),
  SEED_DEMO: bool,

  CACHE_ENABLED: bool,
  CACHE_TTL_SECONDS: int(1, 86_400).default(60),
  CACHE_MAX_ENTRIES: int(100, 10_000_000).default(50_000),
  SESSION_CACHE_TTL_SECONDS: int(1, 3600).default(300),

  JOB_WORKERS: bool,
  JOB_POLL_INTERVAL_SECONDS: z.coerce.number().min(0.5).max(60).default(2),
  JOB_RETRY_LIMIT: int(0, 100).default(5),
  JOB_RETRY_DELAY_SECONDS: int(1, 86_400).default(30),
  JOB_TIMEOUT_SECONDS: int(5, 3600).default(30),
  CLEANUP_CRON: z.string().trim().min(9).default("17 * * * *"),

  SERVER_TIMING: z.enum(["exact", "coarse", "off"]).optional(),

  METRICS_TOKEN: optionalString.pipe(z.string().min(16, "must be at least 16 characters").optional()),

  SMTP_URL: optionalString.pipe(z.url({ protocol: /^smtps?$/ }).optional()),
  MAIL_FROM: z.string().default("Agora <no-reply@agora.local>"),
  PUBLIC_URL: optionalString.pipe(z.url().optional()),

  PANEL_ENABLED: bool,
  DOCS_ENABLED: bool,
});

export type Env = Record<string, string | undefined>;

/**
 * Below the process's file-descriptor limit (Linux: /proc/self/limits), leaving room for the
 * database, Redis, worker threads and files: a flood of connections is then refused by the
 * server, instead of every accept and every new database connection failing with EMFILE.
 */
function defaultMaxConnections(): number {
  try {
    const limits = readFileSync("/proc/self/limits", "utf8");
    const soft = Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1]);
    if (Number.isFinite(soft) && soft > 0) return Math.max(64, Math.min(10_000, soft - 256));
  } catch {
    // not Linux
  }
  return 10_000;
}

export interface Config {
  readonly env: "development" | "production" | "test";
  readonly host: string;
  readonly port: number;
  readonly logLevel: string;
  /**
   * Which X-Forwarded-For hops are proxies of ours: how many (0: none), or their addresses
   * (proxy-addr's forms: IPs, CIDR ranges, loopback, linklocal, uniquelocal). The client is the
   * nearest address that is not one of them.
   */
  readonly trustProxy: number | readonly string[];
  readonly database: DatabaseSettings;
  readonly redis: {
    readonly url: string;
    readonly keyPrefix: string;
    /** Every command fails after this instead of waiting for a slow or absent Redis. */
    readonly commandTimeoutMs: number;
  } | null;
  /** DATA_DIR (default `./.data`); null for DATA_DIR=:memory:. */
  readonly dataDir: string | null;
  readonly auth: {
    readonly jwtSecret: string;
    /** JWT_SECRET was not set: the secret is random for this run, or kept in `jwtSecretFile`. */
    readonly jwtSecretGenerated: boolean;
    /** Where a development secret is kept across restarts (see keepDevJwtSecret); null otherwise. */
    readonly jwtSecretFile: string | null;
    readonly issuer: string;
    readonly audience: string;
    readonly accessTokenTtlSeconds: number;
    readonly refreshTokenTtlSeconds: number;
    /**
     * How long after a rotation a repeat of the spent refresh token, with an access token of
     * its session, gets the same new token instead of revoking the session; 0 turns it off.
     */
    readonly refreshReuseGraceSeconds: number;
    readonly passwordResetTtlSeconds: number;
    readonly bcryptCost: number;
    readonly passwordWorkers: number;
    /**
     * Hashes allowed to wait for a worker, for sign-ins and, separately, for other password
     * work (which waits behind sign-ins); beyond that, calls are refused at once.
     */
    readonly passwordQueueMax: number;
    /** How much lower than the event loop's the hashing threads' CPU priority is (nice). */
    readonly passwordWorkerNice: number;
  };
  readonly corsOrigins: readonly string[];
  readonly rateLimit: {
    readonly enabled: boolean;
    readonly windowSeconds: number;
    readonly max: number;
    /** `auth.login` calls per IP, failed or not. */
    readonly loginMax: number;
    /** Failed sign-ins per (email, IP). */
    readonly loginEmailIpMax: number;
    /** Failed sign-ins per email, from every IP together. */
    readonly loginEmailMax: number;
    readonly registerMax: number;
    /** `auth.requestPasswordReset` per IP. */
    readonly passwordResetMax: number;
    /** Reset mails asked for per email, from every IP together, per `passwordResetEmailWindowSeconds`. */
    readonly passwordResetEmailMax: number;
    readonly passwordResetEmailWindowSeconds: number;
    /** `auth.resetPassword` and `auth.changePassword`, each, per IP. */
    readonly passwordChangeMax: number;
    readonly onRedisFailure: RedisFailurePolicy;
  };
  readonly streams: {
    /** Event streams (SSE) one client address may hold open on this instance. */
    readonly perIp: number;
    /** Event streams one user or API key may hold open on this instance. */
    readonly perPrincipal: number;
    /** Events a resuming stream replays at most (the newest ones after its `lastEventId`). */
    readonly replayMax: number;
  };
  /** Sockets this instance holds at most; past it new connections are closed at once. */
  readonly httpMaxConnections: number;
  /**
   * "fast" (default): plain /trpc queries and mutations are answered by http/trpc-fast/, the
   * rest by tRPC's express adapter. "official": tRPC's adapter answers every call, the
   * operator's switch should a tRPC upgrade and the fast path ever disagree.
   */
  readonly trpcAdapter: "fast" | "official";
  readonly shutdownTimeoutMs: number;
  /** After SIGTERM, /readyz answers 503 and the server keeps serving this long before it stops accepting. */
  readonly shutdownDelayMs: number;
  /** Worker processes (node:cluster) sharing the port; 1 runs the server in this process. */
  readonly webConcurrency: number;
  readonly cache: {
    /** Hot reads (markets, products, users); session checks are cached either way. */
    readonly enabled: boolean;
    readonly ttlSeconds: number;
    readonly maxEntries: number;
    readonly sessionTtlSeconds: number;
  };
  readonly jobs: {
    /** Whether this instance processes jobs (every instance can enqueue). */
    readonly workers: boolean;
    readonly pollIntervalSeconds: number;
    readonly retryLimit: number;
    readonly retryDelaySeconds: number;
    /**
     * How long one attempt may run. A job whose instance died is retried by another within
     * this plus `JOB_RECLAIM_GRACE_SECONDS` and one reclaim tick (see infra/jobs.ts).
     */
    readonly timeoutSeconds: number;
    readonly cleanupCron: string;
  };
  /**
   * The `Server-Timing` header: "exact" (0.1 ms), "coarse" (rounded to 100 ms, so it tells
   * nothing about the few milliseconds a lookup takes), "off" (not sent).
   */
  readonly serverTiming: "exact" | "coarse" | "off";
  readonly metrics: {
    /** Off in production unless a token is set; when set, scrapes must send it as a Bearer token. */
    readonly enabled: boolean;
    readonly token: string | null;
  };
  readonly admin: { readonly email: string; readonly password: string; readonly username: string } | null;
  /** Seed the demo marketplace at start when the database has no users yet. */
  readonly seedDemo: boolean;
  readonly mail: {
    readonly smtpUrl: string | null;
    readonly from: string;
    readonly outboxDir: string | null;
  };
  readonly publicUrl: string;
  /** The tRPC panel at /panel: on outside production unless turned off. */
  readonly panelEnabled: boolean;
  /** The OpenAPI document and the rendered REST docs (/api/openapi.json, /docs): on unless turned off. */
  readonly docsEnabled: boolean;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Parses the environment once. Throws a ConfigError whose message names every bad variable;
 * `main.ts` prints it and exits. Tests call this with their own map instead of process.env.
 */
export function loadConfig(env: Env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(env)"}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join("; ")}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === "production";

  if (production && !e.JWT_SECRET) {
    throw new ConfigError("invalid configuration: JWT_SECRET: required when NODE_ENV=production");
  }
  if (e.WEB_CONCURRENCY > 1 && !e.DATABASE_URL) {
    throw new ConfigError(
      "invalid configuration: WEB_CONCURRENCY: more than one worker needs DATABASE_URL (the embedded database serves a single process)",
    );
  }
  if (e.WEB_CONCURRENCY > 1 && !e.REDIS_URL) {
    throw new ConfigError(
      "invalid configuration: WEB_CONCURRENCY: more than one worker needs REDIS_URL (rate limits, cache and events must be shared between workers)",
    );
  }
  if (e.DB_POOLER === "transaction" && !e.DATABASE_URL) {
    throw new ConfigError(
      "invalid configuration: DB_POOLER: a pooler needs DATABASE_URL (the embedded database has none)",
    );
  }
  if (e.DB_POOLER === "transaction" && (e.MIGRATE_ON_START ?? true) && !e.DATABASE_DIRECT_URL) {
    throw new ConfigError(
      "invalid configuration: DATABASE_DIRECT_URL: with DB_POOLER=transaction, migrations need PostgreSQL itself " +
        "(they hold a lock across transactions): set DATABASE_DIRECT_URL to it, or MIGRATE_ON_START=false and run " +
        "`pnpm db:deploy` with DATABASE_DIRECT_URL set",
    );
  }
  if (e.DATABASE_DIRECT_URL && !e.DATABASE_URL) {
    throw new ConfigError("invalid configuration: DATABASE_DIRECT_URL: set DATABASE_URL too");
  }
  if ((e.ADMIN_EMAIL === undefined) !== (e.ADMIN_PASSWORD === undefined)) {
    throw new ConfigError("invalid configuration: ADMIN_EMAIL/ADMIN_PASSWORD: set both or neither");
  }

  const dataDir = e.DATA_DIR === undefined ? path.join(repoRoot, ".data") : path.resolve(e.DATA_DIR);
  const database: Config["database"] = e.DATABASE_URL
    ? {
        kind: "postgres",
        url: e.DATABASE_URL,
        directUrl: e.DATABASE_DIRECT_URL ?? e.DATABASE_URL,
        pooler: e.DB_POOLER,
        poolSize: e.DB_POOL_SIZE,
        migrateOnStart: e.MIGRATE_ON_START ?? true,
        queryTimeoutMs: e.DB_QUERY_TIMEOUT_MS,
        poolTimeoutMs: e.DB_POOL_TIMEOUT_MS,
      }
    : {
        kind: "embedded",
        dataDir: e.DATA_DIR === ":memory:" ? null : dataDir,
        port: e.EMBEDDED_DB_PORT,
        // One connection: pglite-socket interleaves the protocol messages of concurrent
        // connections outside transactions (one's Bind meets another's Parse), which mixes up
        // results. PGlite runs one query at a time anyway, so nothing is lost.
        poolSize: 1,
        migrateOnStart: e.MIGRATE_ON_START ?? true,
        queryTimeoutMs: e.DB_QUERY_TIMEOUT_MS,
        poolTimeoutMs: e.DB_POOL_TIMEOUT_MS,
      };

  return deepFreeze({
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    trustProxy: e.TRUST_PROXY,
    database,
    dataDir: e.DATA_DIR === ":memory:" ? null : dataDir,
    redis: e.REDIS_URL
      ? { url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX, commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS }
      : null,
    auth: {
      jwtSecret: e.JWT_SECRET ?? randomBytes(48).toString("base64url"),
      jwtSecretGenerated: e.JWT_SECRET === undefined,
      jwtSecretFile: null,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      accessTokenTtlSeconds: e.ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlSeconds: e.REFRESH_TOKEN_TTL_SECONDS,
      refreshReuseGraceSeconds: e.REFRESH_TOKEN_REUSE_GRACE_SECONDS,
      passwordResetTtlSeconds: e.PASSWORD_RESET_TTL_SECONDS,
      bcryptCost: e.BCRYPT_COST,
      passwordWorkers: e.PASSWORD_WORKERS,
      passwordQueueMax: e.PASSWORD_QUEUE_MAX,
      passwordWorkerNice: e.PASSWORD_WORKER_NICE,
    },
    corsOrigins: e.CORS_ORIGINS,
    rateLimit: {
      enabled: e.RATE_LIMIT_ENABLED ?? true,
      windowSeconds: e.RATE_LIMIT_WINDOW_SECONDS,
      max: e.RATE_LIMIT_MAX,
      loginMax: e.RATE_LIMIT_LOGIN_MAX,
      loginEmailIpMax: e.RATE_LIMIT_LOGIN_EMAIL_IP_MAX,
      loginEmailMax: e.RATE_LIMIT_LOGIN_EMAIL_MAX,
      registerMax: e.RATE_LIMIT_REGISTER_MAX,
      passwordResetMax: e.RATE_LIMIT_PASSWORD_RESET_MAX,
      passwordResetEmailMax: e.RATE_LIMIT_PASSWORD_RESET_EMAIL_MAX,
      passwordResetEmailWindowSeconds: e.RATE_LIMIT_PASSWORD_RESET_EMAIL_WINDOW_SECONDS,
      passwordChangeMax: e.RATE_LIMIT_PASSWORD_CHANGE_MAX,
      onRedisFailure: e.RATE_LIMIT_ON_REDIS_FAILURE,
    },
    streams: {
      perIp: e.SSE_MAX_STREAMS_PER_IP,
      perPrincipal: e.SSE_MAX_STREAMS_PER_USER,
      replayMax: e.SSE_REPLAY_MAX,
    },
    httpMaxConnections: e.HTTP_MAX_CONNECTIONS ?? defaultMaxConnections(),
    trpcAdapter: e.TRPC_ADAPTER,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    // Load balancers need a moment to see /readyz fail and stop sending; a developer's Ctrl-C does not.
    shutdownDelayMs: e.SHUTDOWN_DELAY_MS ?? (production ? 5_000 : 0),
    webConcurrency: e.WEB_CONCURRENCY,
    cache: {
      enabled: e.CACHE_ENABLED ?? true,
      ttlSeconds: e.CACHE_TTL_SECONDS,
      maxEntries: e.CACHE_MAX_ENTRIES,
      sessionTtlSeconds: e.SESSION_CACHE_TTL_SECONDS,
    },
    jobs: {
      workers: e.JOB_WORKERS ?? true,
      pollIntervalSeconds: e.JOB_POLL_INTERVAL_SECONDS,
      retryLimit: e.JOB_RETRY_LIMIT,
      retryDelaySeconds: e.JOB_RETRY_DELAY_SECONDS,
      timeoutSeconds: e.JOB_TIMEOUT_SECONDS,
      cleanupCron: e.CLEANUP_CRON,
    },
    serverTiming: e.SERVER_TIMING ?? (production ? "coarse" : "exact"),
    metrics: {
      enabled: !production || e.METRICS_TOKEN !== undefined,
      token: e.METRICS_TOKEN ?? null,
    },
    admin:
      e.ADMIN_EMAIL !== undefined && e.ADMIN_PASSWORD !== undefined
        ? { email: e.ADMIN_EMAIL.toLowerCase(), password: e.ADMIN_PASSWORD, username: e.ADMIN_USERNAME }
        : null,
    // A newcomer's first `pnpm start` shows a live marketplace; never a shared database by default.
    seedDemo: e.SEED_DEMO ?? (e.NODE_ENV === "development" && database.kind === "embedded"),
    mail: {
      smtpUrl: e.SMTP_URL ?? null,
      from: e.MAIL_FROM,
      outboxDir: e.DATA_DIR === ":memory:" ? null : path.join(dataDir, "outbox"),
    },
    publicUrl: e.PUBLIC_URL ?? `http://localhost:${e.PORT}`,
    panelEnabled: e.PANEL_ENABLED ?? !production,
    docsEnabled: e.DOCS_ENABLED ?? true,
  } satisfies Config);
}

/** The file in DATA_DIR that keeps the development JWT secret. */
export const DEV_JWT_SECRET_FILE = "dev-jwt-secret";

/**
 * In development without JWT_SECRET, the secret generated on the first start is kept in
 * `DATA_DIR/dev-jwt-secret` (readable by its owner only) and read on every later start, so a
 * restart (every save under `pnpm dev`) does not sign everyone out. Production requires
 * JWT_SECRET (loadConfig refuses to start without it) and never reads or writes this file;
 * tests (NODE_ENV=test) and DATA_DIR=:memory: keep a random secret per run.
 * Called by main.ts only: loadConfig itself never touches the disk.
 */
export function keepDevJwtSecret(config: Config): Config {
  if (config.env !== "development" || !config.auth.jwtSecretGenerated || config.dataDir === null)
    return config;
  const file = path.join(config.dataDir, DEV_JWT_SECRET_FILE);
  let secret: string;
  try {
    mkdirSync(config.dataDir, { recursive: true });
    // "wx": two processes starting at once both end up with the first one's secret.
    writeFileSync(file, `${config.auth.jwtSecret}\n`, { flag: "wx", mode: 0o600 });
    secret = config.auth.jwtSecret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
      throw new ConfigError(
        `JWT_SECRET is not set and the development secret could not be kept in ${file}: ${(error as Error).message}; set JWT_SECRET or DATA_DIR`,
      );
    }
    secret = readFileSync(file, "utf8").trim();
    if (secret.length < 32) {
      throw new ConfigError(
        `JWT_SECRET is not set and ${file} does not hold a secret of at least 32 characters: delete it (a new one is generated) or set JWT_SECRET`,
      );
    }
  }
  return deepFreeze({ ...config, auth: { ...config.auth, jwtSecret: secret, jwtSecretFile: file } });
}
