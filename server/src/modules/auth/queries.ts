import type { Sql } from "../../infra/database/sql.js";
import type { Role } from "../../shared/principal.js";
import { asRole } from "../users/queries.js";

/** A session as the live-session check needs it: whose, whether revoked, and the user's role now. */
export async function selectSession(
  sql: Sql,
  id: string,
): Promise<{ userId: string; revoked: boolean; role: Role } | null> {
  const rows = await sql.rows<{ userId: string; revoked: boolean; role: string }>(
    `SELECT s.user_id AS "userId", s.revoked_at IS NOT NULL AS revoked, u.role::text AS role
     FROM auth_sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1`,
    [id],
  );
  const row = rows[0];
  return row ? { userId: row.userId, revoked: row.revoked, role: asRole(row.role) } : null;
}
