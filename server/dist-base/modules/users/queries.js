/** The hot reads of users as single SQL statements (see infra/sql.ts for why). */
export function asRole(value) {
    if (value === "USER" || value === "ADMIN")
        return value;
    throw new Error(`unknown role ${value}`);
}
export async function selectUserView(sql, id) {
    const rows = await sql.rows(`SELECT id, email, username, name, role::text AS role, created_at AT TIME ZONE 'UTC' AS "createdAt"
     FROM users WHERE id = $1`, [id]);
    const row = rows[0];
    return row ? { ...row, role: asRole(row.role) } : null;
}
//# sourceMappingURL=queries.js.map