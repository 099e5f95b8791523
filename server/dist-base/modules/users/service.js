import { cacheGroups } from "../../shared/cache-groups.js";
import { ConflictError, NotFoundError } from "../../shared/errors.js";
import { cursorDate, keysetPage, readCursor } from "../../shared/pagination.js";
import { isAdmin } from "../../shared/principal.js";
import { isForeignKeyViolation, isUniqueViolation } from "../../shared/prisma-errors.js";
import { selectUserView } from "./queries.js";
const CURSOR_TAG = "users";
export class UserService {
    db;
    auth;
    markets;
    cache;
    sql;
    constructor(db, auth, markets, cache, sql) {
        this.db = db;
        this.auth = auth;
        this.markets = markets;
        this.cache = cache;
        this.sql = sql;
    }
    /** Cached: `users.byId` and `users.me` are among the hottest reads. */
    async byId(id) {
        const user = await this.cache.getOrLoad("user", `user:${id}`, [cacheGroups.user(id)], () => selectUserView(this.sql, id));
        if (!user)
            throw new NotFoundError("User");
        return user;
    }
    /** Self or admin; anyone else is told the user does not exist. */
    async update(viewer, id, data) {
        if (!isAdmin(viewer) && !(viewer.kind === "user" && viewer.id === id))
            throw new NotFoundError("User");
        const email = "email" in data ? data.email : undefined;
        let user;
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
        }
        catch (error) {
            if (isUniqueViolation(error))
                throw await this.auth.describeDuplicate(this.db, email, data.username);
            throw error;
        }
        await this.cache.invalidate([cacheGroups.user(id)]);
        // Markets show their owner's username.
        if (data.username !== undefined)
            await this.markets.ownerRenamed(id);
        return user;
    }
    async list(input) {
        const search = input.search?.trim();
        const where = search
            ? {
                OR: [
                    { usernameLower: { contains: search.toLowerCase() } },
                    { email: { contains: search.toLowerCase() } },
                    { name: { contains: search, mode: "insensitive" } },
                ],
            }
            : {};
        const after = readCursor(input.cursor, CURSOR_TAG, 2);
        const keyset = after
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
        return { ...page, total };
    }
    async setRole(id, role) {
        const user = await this.db.$transaction(async (tx) => {
            const current = await tx.user.findUnique({ where: { id } });
            if (!current)
                throw new NotFoundError("User");
            if (current.role === "ADMIN" && role !== "ADMIN")
                await this.assertNotLastAdmin(tx, id);
            return tx.user.update({ where: { id }, data: { role } });
        });
        // Live-session checks carry the role: a demotion must take effect on the next call.
        await this.cache.invalidateOrThrow([cacheGroups.user(id), cacheGroups.sessionsOf(id)]);
        return user;
    }
    /**
     * Their sessions and posts go with them; markets they own and orders they placed are
     * business records, so a user who has any cannot be deleted (CONFLICT).
     */
    async delete(id) {
        try {
            await this.db.$transaction(async (tx) => {
                const user = await tx.user.findUnique({ where: { id }, select: { role: true } });
                if (!user)
                    throw new NotFoundError("User");
                if (user.role === "ADMIN")
                    await this.assertNotLastAdmin(tx, id);
                await tx.user.delete({ where: { id } });
            });
        }
        catch (error) {
            if (isForeignKeyViolation(error)) {
                throw new ConflictError("This user owns markets or has placed orders and cannot be deleted");
            }
            throw error;
        }
        await this.cache.invalidateOrThrow([cacheGroups.user(id), cacheGroups.sessionsOf(id)]);
    }
    /** Nobody may remove the last admin: it would lock everyone out of administration. */
    async assertNotLastAdmin(tx, id) {
        // Lock the admin rows so two admins cannot demote each other at the same moment.
        const admins = await tx.$queryRaw `SELECT id FROM users WHERE role = 'ADMIN' FOR UPDATE`;
        if (admins.every((a) => a.id === id))
            throw new ConflictError("Cannot remove the last admin");
    }
}
//# sourceMappingURL=service.js.map