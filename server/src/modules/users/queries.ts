import type { Sql } from "../../infra/database/sql.js";
import type { Role } from "../../shared/principal.js";
import type { UserView } from "./presenter.js";

/** The hot reads of users as single SQL statements (see infra/database/sql.ts for why). */

export function asRole(value: string): Role {
  if (value === "USER" || value === "ADMIN") return value;
  throw new Error(`unknown role ${value}`);
}

/**
 * Several users in one statement, in the order of `ids` (null where there is none): the
 * loader in UserService gathers the `users.byId` reads made at the same moment, such as the
 * calls of one tRPC batch, into one of these.
 */
export async function selectUserViews(sql: Sql, ids: readonly string[]): Promise<(UserView | null)[]> {
  const rows = await sql.rows<Omit<UserView, "role"> & { role: string }>(
    `SELECT id, email, username, name, role::text AS role, created_at AT TIME ZONE 'UTC' AS "createdAt"
     FROM users WHERE id = ANY($1::text[])`,
    [ids],
  );
  const byId = new Map(rows.map((row) => [row.id, { ...row, role: asRole(row.role) }]));
  return ids.map((id) => byId.get(id) ?? null);
}
