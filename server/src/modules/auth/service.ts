import type { User } from "../../generated/prisma/client.js";
import type { Db, DbOrTx } from "../../infra/db.js";
import type { Logger } from "../../infra/logger.js";
import type { Mailer } from "../../infra/mailer.js";
import type { PasswordHasher } from "../../infra/passwords.js";
import { ConflictError, UnauthorizedError, ValidationError } from "../../shared/errors.js";
import type { Principal } from "../../shared/principal.js";
import { isUniqueViolation } from "../../shared/prisma-errors.js";
import type { RegisterInput, Tokens } from "./schemas.js";
import { hashSecret, newSecret, type AccessTokens } from "./tokens.js";

export interface AuthSettings {
  refreshTokenTtlSeconds: number;
  passwordResetTtlSeconds: number;
  publicUrl: string;
}

export interface AuthResult {
  user: User;
  tokens: Tokens;
}

const INVALID_CREDENTIALS = "Invalid email or password";

export class AuthService {
  constructor(
    private readonly db: Db,
    private readonly passwords: PasswordHasher,
    private readonly accessTokens: AccessTokens,
    private readonly mailer: Mailer,
    private readonly settings: AuthSettings,
    private readonly log: Logger,
  ) {}

  async register(input: RegisterInput): Promise<AuthResult> {
    const passwordHash = await this.passwords.hash(input.password);
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
      return { user, tokens: await this.startSession(user) };
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
      return "promoted";
    }
    await this.db.user.create({
      data: {
        email,
        username,
        usernameLower: username.toLowerCase(),
        passwordHash: await this.passwords.hash(password),
        role: "ADMIN",
      },
    });
    return "created";
  }

  async login(email: string, password: string): Promise<AuthResult> {
    const user = await this.db.user.findUnique({ where: { email } });
    const ok = user
      ? await this.passwords.verify(password, user.passwordHash)
      : await this.passwords.verifyAgainstDummy(password);
    if (!user || !ok) throw new UnauthorizedError(INVALID_CREDENTIALS);
    return { user, tokens: await this.startSession(user) };
  }

  /** Rotates a refresh token. A token presented twice revokes its whole session (theft signal). */
  async refresh(refreshToken: string): Promise<Tokens> {
    const tokenHash = hashSecret(refreshToken);
    const now = new Date();
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
          await tx.authSession.updateMany({
            where: { id: row.sessionId, revokedAt: null },
            data: { revokedAt: now },
          });
          return { kind: "reused" as const, sessionId: row.sessionId };
        }
        return { kind: "invalid" as const };
      }
      await tx.authSession.update({ where: { id: row.sessionId }, data: { lastUsedAt: now } });
      const next = newSecret();
      await tx.refreshToken.create({
        data: {
          sessionId: row.sessionId,
          tokenHash: hashSecret(next),
          expiresAt: new Date(now.getTime() + this.settings.refreshTokenTtlSeconds * 1000),
        },
      });
      return {
        kind: "rotated" as const,
        user: row.session.user,
        sessionId: row.sessionId,
        refreshToken: next,
      };
    });

    if (outcome.kind === "reused") {
      this.log.warn({ sessionId: outcome.sessionId }, "refresh token reused: session revoked");
    }
    if (outcome.kind !== "rotated") throw new UnauthorizedError("Invalid or expired refresh token");
    return this.tokensFor(outcome.user, outcome.sessionId, outcome.refreshToken);
  }

  /** Ends the session a refresh token belongs to, if it is the caller's; silent otherwise. */
  async logout(userId: string, refreshToken: string): Promise<void> {
    await this.db.authSession.updateMany({
      where: { userId, revokedAt: null, refreshTokens: { some: { tokenHash: hashSecret(refreshToken) } } },
      data: { revokedAt: new Date() },
    });
  }

  /** Revokes every session: their refresh tokens and (through `sid`) their access tokens. */
  async logoutAll(userId: string): Promise<void> {
    await this.db.authSession.updateMany({
      where: { userId, revokedAt: null },
      data: { revokedAt: new Date() },
    });
  }

  async changePassword(
    principal: Principal & { kind: "user" },
    current: string,
    next: string,
  ): Promise<void> {
    const user = await this.db.user.findUnique({ where: { id: principal.id } });
    if (!user) throw new UnauthorizedError();
    if (!(await this.passwords.verify(current, user.passwordHash))) {
      throw new ValidationError({ currentPassword: ["Current password is incorrect"] });
    }
    const passwordHash = await this.passwords.hash(next);
    await this.db.$transaction([
      this.db.user.update({ where: { id: user.id }, data: { passwordHash } }),
      this.db.authSession.updateMany({
        where: { userId: user.id, revokedAt: null, id: { not: principal.sessionId } },
        data: { revokedAt: new Date() },
      }),
    ]);
  }

  /** Always succeeds; a mail goes out only when the email belongs to someone. */
  async requestPasswordReset(email: string): Promise<void> {
    const user = await this.db.user.findUnique({ where: { email }, select: { id: true, email: true } });
    if (!user) return;
    const token = newSecret();
    await this.db.passwordResetToken.create({
      data: {
        userId: user.id,
        tokenHash: hashSecret(token),
        expiresAt: new Date(Date.now() + this.settings.passwordResetTtlSeconds * 1000),
      },
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
      // The caller must not learn whether the address exists, so a mail failure is logged, not returned.
      this.log.error({ err: error, userId: user.id }, "password reset mail could not be sent");
    }
  }

  async resetPassword(token: string, newPassword: string): Promise<void> {
    const tokenHash = hashSecret(token);
    const passwordHash = await this.passwords.hash(newPassword);
    const now = new Date();
    const done = await this.db.$transaction(async (tx) => {
      const spent = await tx.passwordResetToken.updateMany({
        where: { tokenHash, usedAt: null, expiresAt: { gt: now } },
        data: { usedAt: now },
      });
      if (spent.count !== 1) return false;
      const row = await tx.passwordResetToken.findUniqueOrThrow({
        where: { tokenHash },
        select: { userId: true },
      });
      await tx.user.update({ where: { id: row.userId }, data: { passwordHash } });
      await tx.authSession.updateMany({
        where: { userId: row.userId, revokedAt: null },
        data: { revokedAt: now },
      });
      return true;
    });
    if (!done) throw new ValidationError({ token: ["Invalid or expired reset token"] });
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

  /** Resolves an access token to the caller, checking its session is still live. */
  async authenticateAccessToken(token: string): Promise<Principal | null> {
    const claims = await this.accessTokens.verify(token);
    if (!claims) return null;
    const session = await this.db.authSession.findUnique({
      where: { id: claims.sessionId },
      select: { userId: true, revokedAt: true, user: { select: { role: true } } },
    });
    if (!session || session.revokedAt || session.userId !== claims.userId) return null;
    // The role comes from the database, so a demotion takes effect at once.
    return { kind: "user", id: claims.userId, role: session.user.role, sessionId: claims.sessionId };
  }
}
