import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import type { RateLimiter } from "../infra/rate-limit.js";
import { DomainError, StockConflictError, ValidationError, type StockShortage } from "../shared/errors.js";
import type { Principal } from "../shared/principal.js";
import { findUnstorableText } from "../shared/text.js";
import type { Context } from "./context.js";
import { fieldErrorsFromCause, toTRPCError, UNAVAILABLE_RETRY_AFTER_SECONDS } from "./errors.js";

export interface ErrorData {
  code: string;
  httpStatus: number;
  path: string | null;
  requestId: string | null;
  /** Set for BAD_REQUEST caused by invalid input: `{ "field.path": ["message"] }`. */
  fieldErrors: Record<string, string[]> | null;
  /** Set for a CONFLICT refusing an order line for want of stock: which product, how many left and asked for. */
  stock: StockShortage | null;
}

/**
 * What a procedure may declare about itself. `openapi` exposes it under /api/v1 (http/rest.ts
 * serves it, http/openapi.ts documents it): the subset of trpc-to-openapi's `OpenApiMeta` we
 * use, written out here so the router's type (which the SDK's declarations carry) needs
 * nothing from that server-only package; http/openapi.ts checks the two stay compatible.
 */
export type ProcedureMeta = {
  /**
   * What the procedure does, in one line, for a procedure without `openapi` (whose
   * `summary` says it otherwise). The panel shows `openapi.summary ?? summary`.
   */
  summary?: string;
  openapi?: {
    method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
    path: `/${string}`;
    summary: string;
    description?: string;
    tags: [string];
    /**
     * The refusals the procedure itself may answer, beyond those its access (401, 403), its
     * input (400), its method (409 for writes) and every call (429, 500, 503) already imply:
     * e.g. NOT_FOUND for a parent id in the body, UNAUTHORIZED for a wrong password.
     */
    errors?: readonly ("UNAUTHORIZED" | "FORBIDDEN" | "NOT_FOUND" | "CONFLICT")[];
  };
  /**
   * Why a query or mutation is not on REST (`/api/v1`), for one that has no `openapi`: every
   * other one must have it (tests/openapi-contract.test.ts), and the document lists these.
   */
  internal?: string;
  /**
   * Who may call: set by the procedure builders below, never by a procedure itself. The
   * panel, the OpenAPI document's security and its 401/403 answers all follow from it.
   * - `anonymous`: anyone; credentials are not even read (`anonymousProcedure`);
   * - `public`: anyone; credentials are read when sent, so ones that do not check out are
   *   refused with UNAUTHORIZED even where none are required (`publicProcedure`);
   * - `signed-in`: a signed-in user or an API key (`protectedProcedure`);
   * - `user`: a signed-in user, never an API key (`userProcedure`);
   * - `admin`: a user or an API key whose role is ADMIN (`adminProcedure`).
   */
  access?: ProcedureAccess;
};

export type ProcedureAccess = "anonymous" | "public" | "signed-in" | "user" | "admin";

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * An input envelope without `meta.referentialEqualities`. They only restore object identity
 * (the JSON already holds a full copy at every path), which no procedure needs; and they let a
 * caller turn the input into a cycle (`{"a":["a.b"]}` makes `input.a.b === input.a`) or an
 * exponentially shared graph, which every walk of the input (ours in shared/text.ts included)
 * then follows forever: one request held the process until it ran out of memory.
 */
function withoutReferences(value: unknown): unknown {
  if (!isRecord(value) || !isRecord(value.meta) || !("referentialEqualities" in value.meta)) return value;
  const { referentialEqualities: _identities, ...meta } = value.meta;
  return { ...value, meta };
}

/**
 * superjson, except that an envelope it cannot decode (a malformed `meta`, hostile nesting)
 * is a BAD_REQUEST in our words: superjson fails on those with the engine's own errors
 * ("Maximum call stack size exceeded", "Cannot read properties of undefined").
 */
const transformer = {
  input: {
    serialize: (value: unknown) => superjson.serialize(value),
    deserialize: (value: unknown): unknown => {
      try {
        return superjson.deserialize(withoutReferences(value) as Parameters<typeof superjson.deserialize>[0]);
      } catch (cause) {
        throw new TRPCError({
          code: "BAD_REQUEST",
          message: "Malformed input: not a valid superjson envelope ({ json, meta? })",
          cause,
        });
      }
    },
  },
  output: superjson,
};

/** Our words for a request refused with an error whose text came from the JavaScript engine. */
function malformedMessage(error: TRPCError): string {
  if (error.cause instanceof SyntaxError) return "Malformed request: the body or input is not valid JSON";
  return error.code === "BAD_REQUEST" || error.code === "PARSE_ERROR"
    ? "Malformed request"
    : "Invalid request";
}

/**
 * Whether a message was taken from a foreign error (JSON.parse, superjson, a library) rather
 * than written by us or tRPC: such text describes the engine, not the request, and is not
 * sent to clients.
 */
function isForeignMessage(error: TRPCError): boolean {
  const cause = error.cause;
  return (
    cause instanceof Error &&
    !(cause instanceof DomainError) &&
    !(cause instanceof TRPCError) &&
    error.message === cause.message
  );
}

/** Keys superjson refuses to serialise (its prototype-pollution guard throws, which was a 500). */
const UNSERIALISABLE_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/**
 * Field errors as the response can carry them. Their keys are paths into the caller's input,
 * so a caller chooses them: a top-level property named `prototype`, `constructor` or
 * `__proto__` holding unstorable text is reported under "_" with the name in the message.
 */
function serialisableFieldErrors(
  fieldErrors: Record<string, string[]> | undefined,
): Record<string, string[]> | null {
  if (!fieldErrors) return null;
  const out: Record<string, string[]> = {};
  for (const [key, messages] of Object.entries(fieldErrors)) {
    const reserved = UNSERIALISABLE_KEYS.has(key);
    const name = reserved ? "_" : key;
    const list = Object.hasOwn(out, name) ? (out[name] ?? []) : [];
    list.push(...(reserved ? messages.map((m) => `${key}: ${m}`) : messages));
    out[name] = list;
  }
  return out;
}

const t = initTRPC
  .context<Context>()
  .meta<ProcedureMeta>()
  .create({
    transformer,
    // Never put stack traces in responses, whatever NODE_ENV says.
    isDev: false,
    errorFormatter({ shape, error, ctx }) {
      const base = {
        code: shape.data.code,
        httpStatus: shape.data.httpStatus,
        path: shape.data.path ?? null,
        requestId: ctx?.requestId ?? null,
      };
      if (error.code === "INTERNAL_SERVER_ERROR") {
        return {
          code: shape.code,
          message: "Internal server error",
          data: { ...base, fieldErrors: null, stock: null },
        };
      }
      const fieldErrors = serialisableFieldErrors(fieldErrorsFromCause(error.cause));
      const first = fieldErrors ? Object.entries(fieldErrors)[0] : undefined;
      const message = first
        ? `${first[0]}: ${first[1][0] ?? "invalid"}`
        : isForeignMessage(error)
          ? malformedMessage(error)
          : shape.message;
      const stock = error.cause instanceof StockConflictError ? { ...error.cause.shortage } : null;
      return { code: shape.code, message, data: { ...base, fieldErrors, stock } satisfies ErrorData };
    },
  });

export const router = t.router;
/** For middleware declared on procedures (`trpc/rate-limits.ts`). */
export const middleware = t.middleware;

export async function enforceRateLimit(ctx: Context, limiter: RateLimiter, key: string): Promise<void> {
  const verdict = await limiter.consume(key);
  if (!verdict.allowed) {
    ctx.setHeader("Retry-After", String(verdict.retryAfterSeconds));
    throw new TRPCError({
      code: "TOO_MANY_REQUESTS",
      message: `Too many requests, retry in ${verdict.retryAfterSeconds}s`,
    });
  }
}

/**
 * What every procedure runs first, as one middleware (each tRPC middleware step copies the
 * context and options, which showed in the profile of a trivial call):
 * - the global rate limit per client IP (unless the HTTP layer counted the request already);
 * - refusing text no procedure can store (NUL, unpaired surrogates; shared/text.ts);
 * - identifying the caller when credentials are sent (`identify`). Credentials that do not
 *   check out (expired, revoked, forged, malformed) are refused with UNAUTHORIZED on every
 *   procedure that looks at its caller, public ones included: answering as if the caller
 *   were anonymous would tell a signed-in owner that their own draft does not exist, and give
 *   a client no reason to refresh its token;
 * - mapping what services throw (domain errors, Prisma's known errors, an unreachable
 *   database) to tRPC codes;
 * - counting and timing the call by outcome (Prometheus, at /metrics).
 */
function baseMiddleware(identify: boolean) {
  return t.middleware(async ({ ctx, path, type, next, getRawInput }) => {
    const started = performance.now();
    let code = "OK";
    try {
      if (!ctx.globalLimitCounted) await enforceRateLimit(ctx, ctx.services.rateLimits.global, ctx.ip);
      const unstorable = findUnstorableText(await getRawInput());
      if (unstorable) throw new ValidationError({ [unstorable.path]: [unstorable.reason] });
      let principal: Principal | null = null;
      if (identify) {
        const { bearer, apiKey, ticket = null } = ctx.credentials;
        if (apiKey !== null) principal = await ctx.services.apiKeys.authenticate(apiKey);
        else if (bearer !== null) principal = await ctx.services.auth.authenticateAccessToken(bearer);
        // A ticket opens a subscription only; anywhere else it is a credential that does not check out.
        else if (ticket !== null && type === "subscription")
          principal = await ctx.services.auth.redeemSubscriptionTicket(ticket);
        if ((apiKey !== null || bearer !== null || ticket !== null) && !principal) {
          throw new TRPCError({ code: "UNAUTHORIZED", message: "Invalid or expired credentials" });
        }
      }
      const result = await next({ ctx: { principal } });
      if (!result.ok) {
        const mapped = toTRPCError(result.error.cause);
        if (mapped) throw mapped;
        code = result.error.code;
      }
      return result;
    } catch (error) {
      const mapped = toTRPCError(error) ?? error;
      code = mapped instanceof TRPCError ? mapped.code : "INTERNAL_SERVER_ERROR";
      if (code === "SERVICE_UNAVAILABLE")
        ctx.setHeader("Retry-After", String(UNAVAILABLE_RETRY_AFTER_SECONDS));
      throw mapped;
    } finally {
      ctx.services.metrics.observeCall(path, type, code, (performance.now() - started) / 1000);
    }
  });
}

/** Anyone may call; the caller is identified when credentials are sent (and refused if they are bad). */
export const publicProcedure = t.procedure.use(baseMiddleware(true)).meta({ access: "public" });

/**
 * Anyone may call, and credentials are not even read: signing in, refreshing and resetting a
 * password (a stale token an app still sends must not stop it from getting a new one), and
 * health probes.
 */
export const anonymousProcedure = t.procedure.use(baseMiddleware(false)).meta({ access: "anonymous" });

/** A signed-in user or an API key. */
export const protectedProcedure = publicProcedure
  .use(({ ctx, next }) => {
    if (!ctx.principal) throw new TRPCError({ code: "UNAUTHORIZED", message: "Authentication required" });
    return next({ ctx: { principal: ctx.principal } });
  })
  .meta({ access: "signed-in" });

/** A signed-in person: procedures about "me" make no sense for an API key. */
export const userProcedure = protectedProcedure
  .use(({ ctx, next }) => {
    const principal = ctx.principal;
    if (principal.kind !== "user") {
      throw new TRPCError({
        code: "FORBIDDEN",
        message: "This procedure needs a user account, not an API key",
      });
    }
    return next({ ctx: { principal } });
  })
  .meta({ access: "user" });

export const adminProcedure = protectedProcedure
  .use(({ ctx, next }) => {
    if (ctx.principal.role !== "ADMIN") throw new TRPCError({ code: "FORBIDDEN", message: "Admins only" });
    return next();
  })
  .meta({ access: "admin" });
