import type { RateLimits } from "../services.js";
import { UnauthorizedError } from "../shared/errors.js";
import type { Context } from "./context.js";
import { enforceRateLimit, middleware } from "./init.js";

/**
 * The per-procedure rate limits, declared on the procedure: `.use(rateLimited("login"))`.
 * Put it after `.input()` (and `.output()`): a key taken from the input (an email) is read from
 * the validated input, and a call refused for its input never takes a point. A refusal is
 * TOO_MANY_REQUESTS with `Retry-After` (`enforceRateLimit`). The global limit per IP is not
 * here: every procedure's base middleware takes it.
 */

interface Call {
  ctx: Context;
  input: unknown;
}

interface Limit {
  limiter: keyof RateLimits;
  key: (call: Call) => string;
}

interface FailureLimit extends Limit {
  /** What a successful call does to its key: clears the count, or gives back its point. */
  onSuccess: "delete" | "reward";
}

interface RateLimitPolicy {
  /** Every call takes a point of each, in order. */
  every: readonly Limit[];
  /**
   * Failed attempts only (UNAUTHORIZED from the procedure): each call takes its points while it
   * runs, so concurrent guesses cannot slip past the limit, and a call that does not fail so
   * gives them back.
   */
  failures?: readonly FailureLimit[];
}

/** The `email` of a procedure's validated input: the key of the limits per email. */
function inputEmail(input: unknown): string {
  if (typeof input === "object" && input !== null && "email" in input && typeof input.email === "string") {
    return input.email;
  }
  throw new Error("a rate limit per email is declared on a procedure whose input has no email");
}

const ip =
  (prefix = "") =>
  ({ ctx }: Call) =>
    `${prefix}${ctx.ip}`;
const email = ({ input }: Call) => inputEmail(input);
const emailAndIp = ({ ctx, input }: Call) => `${inputEmail(input)} ${ctx.ip}`;

export const RATE_LIMIT_POLICIES = {
  register: { every: [{ limiter: "register", key: ip() }] },
  /**
   * Every sign-in per IP; failed ones per (email, IP) and, looser, per email: so wrong
   * passwords sent by someone else cannot lock the owner out from their own IP. A success
   * clears its (email, IP).
   */
  login: {
    every: [{ limiter: "loginByIp", key: ip() }],
    failures: [
      { limiter: "loginFailuresByEmailIp", key: emailAndIp, onSuccess: "delete" },
      { limiter: "loginFailuresByEmail", key: email, onSuccess: "reward" },
    ],
  },
  changePassword: { every: [{ limiter: "passwordChange", key: ip("change ") }] },
  /** Per IP, and per email whether or not it has an account, so the answer tells nothing. */
  requestPasswordReset: {
    every: [
      { limiter: "passwordReset", key: ip() },
      { limiter: "passwordResetByEmail", key: email },
    ],
  },
  resetPassword: { every: [{ limiter: "passwordChange", key: ip("reset ") }] },
} as const satisfies Record<string, RateLimitPolicy>;

export type RateLimitName = keyof typeof RATE_LIMIT_POLICIES;

export function rateLimited(name: RateLimitName) {
  const policy: RateLimitPolicy = RATE_LIMIT_POLICIES[name];
  return middleware(async ({ ctx, input, next }) => {
    const call = { ctx, input };
    const limits = ctx.services.rateLimits;
    for (const limit of policy.every) await enforceRateLimit(ctx, limits[limit.limiter], limit.key(call));
    const failures = (policy.failures ?? []).map((limit) => ({ ...limit, id: limit.key(call) }));
    if (failures.length === 0) return next();
    const taken: typeof failures = [];
    for (const limit of failures) {
      try {
        await enforceRateLimit(ctx, limits[limit.limiter], limit.id);
      } catch (refused) {
        await Promise.all(taken.map((t) => limits[t.limiter].reward(t.id)));
        throw refused;
      }
      taken.push(limit);
    }
    const result = await next();
    if (result.ok) {
      await Promise.all(
        failures.map((l) =>
          l.onSuccess === "delete" ? limits[l.limiter].delete(l.id) : limits[l.limiter].reward(l.id),
        ),
      );
    } else if (!(result.error.cause instanceof UnauthorizedError)) {
      await Promise.all(failures.map((l) => limits[l.limiter].reward(l.id)));
    }
    return result;
  });
}
