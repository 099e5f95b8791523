import DataLoader from "dataloader";
import type { Prisma, Role, User } from "../../generated/prisma/client.js";
import type { Cache } from "../../infra/cache/cache.js";
import type { Db, DbOrTx, Tx } from "../../infra/database/db.js";
import type { Sql } from "../../infra/database/sql.js";
import { cacheGroups } from "../../shared/cache-groups.js";
import { ConflictError, ForbiddenError, NotFoundError } from "../../shared/errors.js";
import { cursorDate, keysetPage, readCursor } from "../../shared/pagination.js";
import type { Principal } from "../../shared/principal.js";
import { canUpdateUser } from "./policy.js";
import { isForeignKeyViolation, isUniqueViolation } from "../../shared/prisma-errors.js";
import type { MarketService } from "../markets/service.js";
import { toUserPublic, type UserView } from "./presenter.js";
import { selectUserViews } from "./queries.js";
import type { UpdateMeInput, UserListInput, UserPublic, UserUpdateData } from "./schemas.js";

const CURSOR_TAG = "users";

export interface UserPageResult {
  items: UserPublic[];
  nextCursor: string | null;
  total: number;
}

/**
 * What user administration needs of the accounts' sign-in side (AuthService provides it):
 * named here, so that users/ does not depend on auth/, which depends on users/.
 */
export interface AccountAuth {
  /** Which of email/username is taken; the unique constraints decided, this only words it. */
  describeDuplicate(
    db: DbOrTx,
    email: string | undefined,
    username: string | undefined,
  ): Promise<ConflictError>;
  /** Tells every instance that the user's sessions changed (their event streams are checked again). */
  sessionsChanged(userId: string): Promise<void>;
}

export class UserService {
  /**
   * Reads of single users made in the same tick (the calls of a tRPC batch, concurrent
   * requests) go to the database as one statement. No memoisation: every load reads fresh.
   */
  private readonly views: DataLoader<string, UserView | null>;

  constructor(
    private readonly db: Db,
    private readonly auth: AccountAuth,
    private readonly markets: MarketService,
    private readonly cache: Cache,
    sql: Sql,
  ) {
    this.views = new DataLoader((ids) => selectUserViews(sql, ids), { cache: false, maxBatchSize: 100 });
  }

  /**
   * A user as `viewer` may see them (users/policy.ts). Cached: `users.byId` and `users.me`
   * are among the hottest reads; the view is the same for everyone, the email is left out per
   * caller after the cache.
   */
  async byId(viewer: Principal | null, id: string): Promise<UserPublic> {
    const user = await this.cache.getOrLoad("user", `user:${id}`, [cacheGroups.user(id)], () =>
      this.views.load(id),
    );
    if (!user) throw new NotFoundError("User");
    return toUserPublic(user, viewer);
  }

  /**
   * Self or admin. Anyone may see any user (users.byId), so anyone else is FORBIDDEN;
   * NOT_FOUND is only for an id that does not exist.
   */
  async update(viewer: Principal, id: string, data: UserUpdateData | UpdateMeInput): Promise<UserPublic> {
    if (!canUpdateUser(viewer, { id })) {
      const exists = await this.db.user.findUnique({ where: { id }, select: { id: true } });
      if (!exists) throw new NotFoundError("User");
      throw new ForbiddenError("Only that user or an admin may update a user");
    }
    const email = "email" in data ? data.email : undefined;
    let user: User;
    try {
      user = await this.db.user.update({
        where: { id },
        data: {
          ...(data.name !== undefined ? { name: data.name } : {}),
          ...(data.username !== undefined
            ? { username: data.username, usernameLower: data.username.toLowerCase() }
            : {}),
          ...(email !== undefined ? { email } : {}),
        },
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw await this.auth.describeDuplicate(this.db, email, data.username);
      throw error;
    }
    await this.cache.invalidate([cacheGroups.user(id)]);
    // Markets show their owner's username.
    if (data.username !== undefined) await this.markets.ownerRenamed(id);
    return toUserPublic(user, viewer);
  }

  /** Admins' (the procedure checks): each user with their email. */
  async list(viewer: Principal, input: UserListInput): Promise<UserPageResult> {
    const search = input.search?.trim();
    const where: Prisma.UserWhereInput = search
      ? {
          OR: [
            { usernameLower: { contains: search.toLowerCase() } },
            { email: { contains: search.toLowerCase() } },
            { name: { contains: search, mode: "insensitive" } },
          ],
        }
      : {};
    const after = readCursor(input.cursor, CURSOR_TAG, 2);
    const keyset: Prisma.UserWhereInput = after
      ? {
          OR: [
            { createdAt: { lt: cursorDate(after[0]) } },
            { createdAt: cursorDate(after[0]), id: { lt: after[1] } },
          ],
        }
      : {};
    const [rows, total] = await Promise.all([
      this.db.user.findMany({
        where: { AND: [where, keyset] },
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        take: input.limit + 1,
      }),
      this.db.user.count({ where }),
    ]);
    const page = keysetPage(rows, input.limit, (last) => [CURSOR_TAG, last.createdAt.toISOString(), last.id]);
    return { items: page.items.map((u) => toUserPublic(u, viewer)), nextCursor: page.nextCursor, total };
  }

  /** Admins' (the procedure checks, or the demo seed); the user as `viewer` may see them. */
  async setRole(viewer: Principal | null, id: string, role: Role): Promise<UserPublic> {
    const user = await this.db.$transaction(async (tx) => {
      const current = await tx.user.findUnique({ where: { id } });
      if (!current) throw new NotFoundError("User");
      if (current.role === "ADMIN" && role !== "ADMIN") await this.assertNotLastAdmin(tx, id);
      return tx.user.update({ where: { id }, data: { role } });
    });
    // Live-session checks carry the role: a demotion must take effect on the next call.
    await this.cache.invalidateOrThrow([cacheGroups.user(id), cacheGroups.sessionsOf(id)]);
    await this.auth.sessionsChanged(id);
    return toUserPublic(user, viewer);
  }

  /**
   * Their sessions and posts go with them; markets they own and orders they placed are
   * business records, so a user who has any cannot be deleted (CONFLICT).
   */
  async delete(id: string): Promise<void> {
    try {
      await this.db.$transaction(async (tx) => {
        const user = await tx.user.findUnique({ where: { id }, select: { role: true } });
        if (!user) throw new NotFoundError("User");
        if (user.role === "ADMIN") await this.assertNotLastAdmin(tx, id);
        await tx.user.delete({ where: { id } });
      });
    } catch (error) {
      if (isForeignKeyViolation(error)) {
        throw new ConflictError("This user owns markets or has placed orders and cannot be deleted");
      }
      throw error;
    }
    await this.cache.invalidateOrThrow([cacheGroups.user(id), cacheGroups.sessionsOf(id)]);
    await this.auth.sessionsChanged(id);
  }

  /** Nobody may remove the last admin: it would lock everyone out of administration. */
  private async assertNotLastAdmin(tx: Tx, id: string): Promise<void> {
    // Lock the admin rows so two admins cannot demote each other at the same moment.
    const admins = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM users WHERE role = 'ADMIN' FOR UPDATE`;
    if (admins.every((a) => a.id === id)) throw new ConflictError("Cannot remove the last admin");
  }
}
