import type { User } from "../../generated/prisma/client.js";
import type { Cache } from "../../infra/cache/cache.js";
import type { Db, DbOrTx } from "../../infra/database/db.js";
import type { JobQueue } from "../../infra/jobs.js";
import type { Sql } from "../../infra/database/sql.js";
import type { Logger } from "../../infra/logger.js";
import type { Mailer } from "../../infra/mailer.js";
import type { PasswordHasher } from "../../infra/passwords.js";
import { cacheGroups } from "../../shared/cache-groups.js";
import { PASSWORD_RESET_QUEUE } from "../../shared/job-queues.js";
import { ConflictError, UnauthorizedError, ValidationError } from "../../shared/errors.js";
import type { Principal, Role } from "../../shared/principal.js";
import { isRecordNotFound, isUniqueViolation } from "../../shared/prisma-errors.js";
import { toUserPublic } from "../users/presenter.js";
import type { UserPublic } from "../users/schemas.js";
import { selectSession } from "./queries.js";
import type { SessionEvents } from "./session-events.js";
import type { RegisterInput, Tokens } from "./schemas.js";
import { hashSecret, newSecret, type AccessTokens } from "./tokens.js";

export interface AuthSettings {
  refreshTokenTtlSeconds: number;
  /** How long after a rotation a repeat of the spent token from its session gets the same successor. */
  refreshReuseGraceSeconds: number;
  accessTokenTtlSeconds: number;
  passwordResetTtlSeconds: number;
  sessionCacheTtlSeconds: number;
  publicUrl: string;
}

/** The queue of password-reset mails: the job makes the token, so no secret waits in the queue. */

/** What a live-session check needs, cached per session; null for a dead session. */
type LiveSession = { userId: string; role: Role } | null;

/** What signing up or in answers: the user as they see themselves, and their tokens. */
export interface AuthResult {
  user: UserPublic;
  tokens: Tokens;
}

const INVALID_CREDENTIALS = "Invalid email or password";

/** How long a subscription ticket may wait to open its stream: long enough for one round trip. */
export const SUBSCRIPTION_TICKET_TTL_SECONDS = 30;

/** What `auth.subscriptionTicket` hands out. */
export interface SubscriptionTicket {
  ticket: string;
  expiresIn: number;
}

/** What AuthService is built from: named, so that wiring it cannot swap two of them. */
export interface AuthServiceDeps {
  readonly db: Db;
  readonly passwords: PasswordHasher;
  readonly accessTokens: AccessTokens;
  readonly mailer: Mailer;
  readonly settings: AuthSettings;
  readonly log: Logger;
  readonly cache: Cache;
  readonly jobs: JobQueue;
  readonly sql: Sql;
  readonly sessionEvents: SessionEvents;
}

export class AuthService {
  private readonly db: Db;
  private readonly passwords: PasswordHasher;
  private readonly accessTokens: AccessTokens;
  private readonly mailer: Mailer;
  private readonly settings: AuthSettings;
  private readonly log: Logger;
  private readonly cache: Cache;
  private readonly jobs: JobQueue;
  private readonly sql: Sql;
  private readonly sessionEvents: SessionEvents;

  constructor(deps: AuthServiceDeps) {
    this.db = deps.db;
    this.passwords = deps.passwords;
    this.accessTokens = deps.accessTokens;
    this.mailer = deps.mailer;
    this.settings = deps.settings;
    this.log = deps.log;
    this.cache = deps.cache;
    this.jobs = deps.jobs;
    this.sql = deps.sql;
    this.sessionEvents = deps.sessionEvents;
  }

  async register(input: RegisterInput): Promise<AuthResult> {
    // A taken email or username is refused before any bcrypt work, so duplicate registrations
    // cost a lookup, not a hash; the unique constraints below still decide between racers.
    const taken = await this.db.user.findFirst({
      where: { OR: [{ email: input.email }, { usernameLower: input.username.toLowerCase() }] },
      select: { email: true },
    });
    if (taken) {
      throw new ConflictError(
        taken.email === input.email ? "Email is already registered" : "Username is already taken",
      );
    }
    const passwordHash = await this.passwords.hash(input.password, "account");
    try {
      const user = await this.db.user.create({
        data: {
          email: input.email,
          username: input.username,
          usernameLower: input.username.toLowerCase(),
          name: input.name ?? null,
          passwordHash,
        },
      });
      return { user: toUserPublic(user, "self"), tokens: await this.startSession(user) };
    } catch (error) {
      if (isUniqueViolation(error)) throw await this.describeDuplicate(this.db, input.email, input.username);
      throw error;
    }
  }

  /** Which of email/username is taken; the unique constraints decided, this only words it. */
  async describeDuplicate(
    db: DbOrTx,
    email: string | undefined,
    username: string | undefined,
  ): Promise<ConflictError> {
    const existing = await db.user.findFirst({
      where: {
        OR: [...(email ? [{ email }] : []), ...(username ? [{ usernameLower: username.toLowerCase() }] : [])],
      },
      select: { email: true },
    });
    return new ConflictError(
      existing && email && existing.email === email
        ? "Email is already registered"
        : "Username is already taken",
    );
  }

  /**
   * Startup seeding of the first admin (ADMIN_EMAIL/ADMIN_PASSWORD): creates the account, or
   * promotes an existing one. An existing password is left alone, so restarts change nothing.
   */
  async ensureAdmin(
    email: string,
    username: string,
    password: string,
  ): Promise<"created" | "promoted" | "unchanged"> {
    const existing = await this.db.user.findUnique({ where: { email } });
    if (existing) {
      if (existing.role === "ADMIN") return "unchanged";
      await this.db.user.update({ where: { id: existing.id }, data: { role: "ADMIN" } });
      await this.cache.invalidateOrThrow([
        cacheGroups.user(existing.id),
        cacheGroups.sessionsOf(existing.id),
      ]);
      await this.sessionsChanged(existing.id);
      return "promoted";
    }
    try {
      await this.db.user.create({
        data: {
          email,
          username,
          usernameLower: username.toLowerCase(),
          passwordHash: await this.passwords.hash(password, "account"),
          role: "ADMIN",
        },
      });
      return "created";
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      // Several instances starting together: one creates the admin, the others find it.
      if ((await this.db.user.findUnique({ where: { email } }))?.role === "ADMIN") return "unchanged";
      const holder = await this.db.user.findUnique({ where: { usernameLower: username.toLowerCase() } });
      if (holder && holder.email !== email) {
        throw new ConflictError(
          `ADMIN_USERNAME "${username}" is already taken by another account, so the admin ${email} (ADMIN_EMAIL) ` +
            "cannot be created: set ADMIN_USERNAME to a free username, or ADMIN_EMAIL to that account's email to make it the admin",
        );
      }
      throw error;
    }
  }

  async login(email: string, password: string): Promise<AuthResult> {
    const user = await this.db.user.findUnique({ where: { email } });
    const ok = user
      ? await this.passwords.verify(password, user.passwordHash, "signIn")
      : await this.passwords.verifyAgainstDummy(password);
    if (!user || !ok) throw new UnauthorizedError(INVALID_CREDENTIALS);
    return { user: toUserPublic(user, "self"), tokens: await this.startSession(user) };
  }

  /**
   * Rotates a refresh token. A token presented twice revokes its whole session (theft signal),
   * with one exception: a repeat of the token its session rotated last, within
   * `refreshReuseGraceSeconds` of that rotation, by a caller that also shows an access token
   * of that session (expired or not), gets the same new refresh token the first use got and a
   * new access token: two tabs of one app that refresh at once stay signed in. Everything it
   * needs is in the database (when the token was used, whether its successor is still unused)
   * and in the shared JWT_SECRET (the successor is derived from the token), so it holds across
   * instances.
   */
  async refresh(refreshToken: string, accessToken: string | null = null): Promise<Tokens> {
    const tokenHash = hashSecret(refreshToken);
    const successor = this.accessTokens.refreshSuccessor(refreshToken);
    const successorHash = hashSecret(successor);
    const callerSession = accessToken ? await this.accessTokens.sessionOf(accessToken) : null;
    const now = new Date();
    const graceMs = this.settings.refreshReuseGraceSeconds * 1000;
    const outcome = await this.db.$transaction(async (tx) => {
      // The conditional update is the single-use guard: of two racing refreshes, one wins.
      const spent = await tx.refreshToken.updateMany({
        where: { tokenHash, usedAt: null, expiresAt: { gt: now }, session: { revokedAt: null } },
        data: { usedAt: now },
      });
      const row = await tx.refreshToken.findUnique({
        where: { tokenHash },
        select: { sessionId: true, usedAt: true, session: { select: { user: true } } },
      });
      if (!row) return { kind: "invalid" as const };
      if (spent.count === 0) {
        if (row.usedAt) {
          if (callerSession === row.sessionId && now.getTime() - row.usedAt.getTime() <= graceMs) {
            const next = await tx.refreshToken.findUnique({
              where: { tokenHash: successorHash },
              select: {
                sessionId: true,
                usedAt: true,
                expiresAt: true,
                session: { select: { revokedAt: true } },
              },
            });
            if (
              next?.sessionId === row.sessionId &&
              next.usedAt === null &&
              next.expiresAt > now &&
              next.session.revokedAt === null
            ) {
              return {
                kind: "repeated" as const,
                user: row.session.user,
                sessionId: row.sessionId,
                refreshToken: successor,
              };
            }
          }
          await tx.authSession.updateMany({
            where: { id: row.sessionId, revokedAt: null },
            data: { revokedAt: now },
          });
          return { kind: "reused" as const, sessionId: row.sessionId, userId: row.session.user.id };
        }
        return { kind: "invalid" as const };
      }
      await tx.authSession.update({ where: { id: row.sessionId }, data: { lastUsedAt: now } });
      await tx.refreshToken.create({
        data: {
          sessionId: row.sessionId,
          tokenHash: successorHash,
          expiresAt: new Date(now.getTime() + this.settings.refreshTokenTtlSeconds * 1000),
        },
      });
      return {
        kind: "rotated" as const,
        user: row.session.user,
        sessionId: row.sessionId,
        refreshToken: successor,
      };
    });

    if (outcome.kind === "reused") {
      await this.sessionsRevoked(outcome.userId);
      this.log.warn({ sessionId: outcome.sessionId }, "refresh token reused: session revoked");
    }
    if (outcome.kind === "repeated") {
      this.log.info({ sessionId: outcome.sessionId }, "refresh token repeated within the grace window");
    }
    if (outcome.kind !== "rotated" && outcome.kind !== "repeated") {
      throw new UnauthorizedError("Invalid or expired refresh token");
    }
    return this.tokensFor(outcome.user, outcome.sessionId, outcome.refreshToken);
  }

  /** Ends the session a refresh token belongs to, if it is the caller's; silent otherwise. */
  async logout(userId: string, refreshToken: string): Promise<void> {
    const revoked = await this.db.authSession.updateMany({
      where: { userId, revokedAt: null, refreshTokens: { some: { tokenHash: hashSecret(refreshToken) } } },
      data: { revokedAt: new Date() },
    });
    if (revoked.count > 0) await this.sessionsRevoked(userId);
  }

  /** Revokes every session: their refresh tokens and (through `sid`) their access tokens. */
  async logoutAll(userId: string): Promise<void> {
    await this.db.authSession.updateMany({
      where: { userId, revokedAt: null },
      data: { revokedAt: new Date() },
    });
    await this.sessionsRevoked(userId);
  }

  /**
   * Every cached live-session check of the user is dropped, on every instance, before the
   * revoking call returns: revocation stays immediate although checks skip the database.
   * A failure throws, so the caller learns the revocation may not have reached the cache
   * (retrying is safe: revoking twice changes nothing).
   */
  private async sessionsRevoked(userId: string): Promise<void> {
    await this.cache.invalidateOrThrow([cacheGroups.sessionsOf(userId)]);
    await this.sessionsChanged(userId);
  }

  /**
   * Tells every instance that the user's sessions changed (call once the session cache is
   * invalidated): their open event streams are checked again and ended if their session was
   * revoked or their role changed.
   */
  sessionsChanged(userId: string): Promise<void> {
    return this.sessionEvents.changed(userId);
  }

  /** The role of a session that is still live, or null (an event stream's check). */
  async liveSessionRole(userId: string, sessionId: string): Promise<Role | null> {
    const row = await selectSession(this.sql, sessionId);
    return row && !row.revoked && row.userId === userId ? row.role : null;
  }

  async changePassword(
    principal: Principal & { kind: "user" },
    current: string,
    next: string,
  ): Promise<void> {
    const user = await this.db.user.findUnique({ where: { id: principal.id } });
    if (!user) throw new UnauthorizedError();
    if (!(await this.passwords.verify(current, user.passwordHash, "account"))) {
      throw new ValidationError({ currentPassword: ["Current password is incorrect"] });
    }
    const passwordHash = await this.passwords.hash(next, "account");
    const now = new Date();
    await this.db.$transaction([
      this.db.user.update({ where: { id: user.id }, data: { passwordHash } }),
      this.db.authSession.updateMany({
        where: { userId: user.id, revokedAt: null, id: { not: principal.sessionId } },
        data: { revokedAt: now },
      }),
      // A reset link mailed before the change must not undo it.
      this.db.passwordResetToken.updateMany({
        where: { userId: user.id, usedAt: null },
        data: { usedAt: now },
      }),
    ]);
    await this.sessionsRevoked(user.id);
  }

  /**
   * Always succeeds, after the same work whether or not the email belongs to someone: one job
   * for the (normalised) email, which looks the account up and mails only if there is one.
   * The mail is a durable job (retried with backoff), so neither the caller's wait nor its
   * answer depends on the mail server or on the account, and the caller cannot learn from
   * either (nor from the job counts in /metrics) whether the address exists.
   */
  async requestPasswordReset(email: string): Promise<void> {
    await this.jobs.enqueue(this.db, PASSWORD_RESET_QUEUE, { email });
  }

  /**
   * The job behind PASSWORD_RESET_QUEUE, for an email (or, for jobs enqueued by earlier
   * versions, a user id). Nothing is sent when no account has it. Each attempt makes a fresh
   * token and mails it; if the mail fails the token is deleted (nobody received it) and the
   * job is retried.
   */
  async sendPasswordResetMail(to: { email: string } | { userId: string }): Promise<void> {
    const user = await this.db.user.findUnique({
      where: "email" in to ? { email: to.email } : { id: to.userId },
      select: { id: true, email: true },
    });
    if (!user) return; // no such account, or deleted since the request: nothing to send
    const token = newSecret();
    const row = await this.db.passwordResetToken.create({
      data: {
        userId: user.id,
        tokenHash: hashSecret(token),
        expiresAt: new Date(Date.now() + this.settings.passwordResetTtlSeconds * 1000),
      },
      select: { id: true },
    });
    const link = new URL("/reset-password", this.settings.publicUrl);
    link.searchParams.set("token", token);
    const minutes = Math.round(this.settings.passwordResetTtlSeconds / 60);
    try {
      await this.mailer.send({
        to: user.email,
        subject: "Reset your Agora password",
        text: `Someone asked to reset the password of your Agora account.\n\nReset token: ${token}\nOr open: ${link.href}\n\nIt works once and expires in ${minutes} minutes. If it was not you, ignore this message.`,
      });
    } catch (error) {
      await this.db.passwordResetToken.delete({ where: { id: row.id } });
      throw error;
    }
  }

  /**
   * The periodic clean-up job: expired refresh and reset tokens, used reset tokens, and
   * sessions that can no longer authenticate anything (revoked, or with every refresh token
   * expired) once their last access token has expired too.
   */
  async cleanupExpired(
    now = new Date(),
  ): Promise<{ refreshTokens: number; resetTokens: number; sessions: number; subscriptionTickets: number }> {
    const accessTokensGone = new Date(now.getTime() - this.settings.accessTokenTtlSeconds * 1000);
    const refreshTokens = await this.db.refreshToken.deleteMany({ where: { expiresAt: { lt: now } } });
    const resetTokens = await this.db.passwordResetToken.deleteMany({
      where: { OR: [{ expiresAt: { lt: now } }, { usedAt: { not: null } }] },
    });
    const sessions = await this.db.authSession.deleteMany({
      where: {
        OR: [
          { revokedAt: { lt: accessTokensGone } },
          { lastUsedAt: { lt: accessTokensGone }, refreshTokens: { none: {} } },
        ],
      },
    });
    const subscriptionTickets = await this.db.subscriptionTicket.deleteMany({
      where: { expiresAt: { lt: now } },
    });
    return {
      refreshTokens: refreshTokens.count,
      resetTokens: resetTokens.count,
      sessions: sessions.count,
      subscriptionTickets: subscriptionTickets.count,
    };
  }

  async resetPassword(token: string, newPassword: string): Promise<void> {
    const tokenHash = hashSecret(token);
    const now = new Date();
    const invalid = () => new ValidationError({ token: ["Invalid or expired reset token"] });
    // A lookup by the token's SHA-256 first: only a live token earns the bcrypt work, so
    // anonymous callers with made-up tokens cannot load the hashing threads.
    const live = await this.db.passwordResetToken.findUnique({
      where: { tokenHash },
      select: { usedAt: true, expiresAt: true },
    });
    if (!live || live.usedAt !== null || live.expiresAt <= now) throw invalid();
    const passwordHash = await this.passwords.hash(newPassword, "account");
    const done = await this.db.$transaction(async (tx) => {
      const spent = await tx.passwordResetToken.updateMany({
        where: { tokenHash, usedAt: null, expiresAt: { gt: now } },
        data: { usedAt: now },
      });
      if (spent.count !== 1) return null;
      const row = await tx.passwordResetToken.findUniqueOrThrow({
        where: { tokenHash },
        select: { userId: true },
      });
      await tx.user.update({ where: { id: row.userId }, data: { passwordHash } });
      await tx.authSession.updateMany({
        where: { userId: row.userId, revokedAt: null },
        data: { revokedAt: now },
      });
      // Any other link mailed to the user is withdrawn: the password it would reset is gone.
      await tx.passwordResetToken.updateMany({
        where: { userId: row.userId, usedAt: null },
        data: { usedAt: now },
      });
      return row.userId;
    });
    if (!done) throw invalid();
    await this.sessionsRevoked(done);
  }

  private async startSession(user: User): Promise<Tokens> {
    const refreshToken = newSecret();
    const session = await this.db.authSession.create({
      data: {
        userId: user.id,
        refreshTokens: {
          create: {
            tokenHash: hashSecret(refreshToken),
            expiresAt: new Date(Date.now() + this.settings.refreshTokenTtlSeconds * 1000),
          },
        },
      },
      select: { id: true },
    });
    return this.tokensFor(user, session.id, refreshToken);
  }

  private async tokensFor(user: User, sessionId: string, refreshToken: string): Promise<Tokens> {
    const accessToken = await this.accessTokens.sign({ userId: user.id, role: user.role, sessionId });
    return { accessToken, refreshToken, tokenType: "Bearer", expiresIn: this.accessTokens.ttlSeconds };
  }

  /**
   * Resolves an access token to the caller, checking its session is still live. The check is
   * cached per session (in Redis when shared) and dropped by every revocation and role change
   * before that call returns, so it needs no database round trip and stays immediate.
   */
  async authenticateAccessToken(token: string): Promise<Principal | null> {
    const claims = await this.accessTokens.verify(token);
    if (!claims) return null;
    return this.livePrincipal(claims.userId, claims.sessionId, claims.expiresAtMs);
  }

  /**
   * A single-use ticket for opening one event stream, for the session of the access token
   * that asked for it: a browser's EventSource cannot send headers, and a ticket in the URL
   * is spent and stale within seconds, where an access token would stay valid for minutes in
   * every proxy log and browser history that recorded it.
   */
  async issueSubscriptionTicket(principal: Principal & { kind: "user" }): Promise<SubscriptionTicket> {
    const ticket = newSecret("st_");
    await this.db.subscriptionTicket.create({
      data: {
        tokenHash: hashSecret(ticket),
        sessionId: principal.sessionId,
        userId: principal.id,
        tokenExpiresAt: new Date(principal.tokenExpiresAtMs),
        expiresAt: new Date(Date.now() + SUBSCRIPTION_TICKET_TTL_SECONDS * 1000),
      },
    });
    return { ticket, expiresIn: SUBSCRIPTION_TICKET_TTL_SECONDS };
  }

  /**
   * Spends a subscription ticket: the caller it stands for, or null when it is unknown, spent,
   * expired or its session is gone. Deleting the row is the single-use guard: of two
   * instances redeeming the same ticket at once, one deletes it and the other finds nothing.
   */
  async redeemSubscriptionTicket(ticket: string): Promise<Principal | null> {
    let row: { userId: string; sessionId: string; tokenExpiresAt: Date; expiresAt: Date };
    try {
      row = await this.db.subscriptionTicket.delete({ where: { tokenHash: hashSecret(ticket) } });
    } catch (error) {
      if (isRecordNotFound(error)) return null;
      throw error;
    }
    if (row.expiresAt.getTime() <= Date.now()) return null;
    return this.livePrincipal(row.userId, row.sessionId, row.tokenExpiresAt.getTime());
  }

  /**
   * The user of a live session: cached per session (in Redis when shared) and dropped by every
   * revocation and role change before that call returns, so it needs no database round trip
   * and stays immediate.
   */
  private async livePrincipal(
    userId: string,
    sessionId: string,
    tokenExpiresAtMs: number,
  ): Promise<Principal | null> {
    const session = await this.cache.getOrLoad<LiveSession>(
      "session",
      `session:${sessionId}`,
      [cacheGroups.sessionsOf(userId)],
      async () => {
        const row = await selectSession(this.sql, sessionId);
        return row && !row.revoked ? { userId: row.userId, role: row.role } : null;
      },
      { alwaysOn: true, ttlMs: this.settings.sessionCacheTtlSeconds * 1000 },
    );
    if (!session || session.userId !== userId) return null;
    // The role comes from the session check, not the token, so a demotion takes effect at once.
    return { kind: "user", id: userId, role: session.role, sessionId, tokenExpiresAtMs };
  }
}
