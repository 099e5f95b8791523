import { likeLiteral, utcTimestamp } from "../../infra/sql.js";
import { ValidationError } from "../../shared/errors.js";
import { cursorDate, keysetPage, readCursor } from "../../shared/pagination.js";
import { isAdmin } from "../../shared/principal.js";
/** The hot reads of markets as single SQL statements (see infra/sql.ts for why). */
const COLUMNS = `m.id, m.name, m.description, m.status::text AS status,
  m.volume_cents::text AS "volumeCents", m.owner_id AS "ownerId", u.username AS "ownerUsername",
  m.created_at AT TIME ZONE 'UTC' AS "createdAt", m.updated_at AT TIME ZONE 'UTC' AS "updatedAt"`;
const STATUSES = ["DRAFT", "ACTIVE", "CLOSED"];
function toOutput(row) {
    const status = STATUSES.find((s) => s === row.status);
    if (!status)
        throw new Error(`unknown market status ${row.status}`);
    return {
        id: row.id,
        name: row.name,
        description: row.description,
        status,
        volumeCents: Number(row.volumeCents),
        owner: { id: row.ownerId, username: row.ownerUsername },
        createdAt: row.createdAt,
        updatedAt: row.updatedAt,
    };
}
export async function selectMarket(sql, id) {
    const rows = await sql.rows(`SELECT ${COLUMNS} FROM markets m JOIN users u ON u.id = m.owner_id WHERE m.id = $1`, [id]);
    const row = rows[0];
    return row ? toOutput(row) : null;
}
const SORT_COLUMN = { createdAt: "m.created_at", volume: "m.volume_cents", name: "m.name" };
/**
 * One page of `markets.list`, keyset-paginated like every list (the cursor holds the sort
 * value and id of the last row). The first page carries its total in the same statement
 * (a window count over the filtered rows); later pages count separately, since their WHERE
 * also holds the cursor.
 */
export async function selectMarketPage(sql, viewer, input) {
    const values = [];
    const param = (value) => {
        values.push(value);
        return `$${String(values.length)}`;
    };
    const filters = [];
    if (!isAdmin(viewer)) {
        filters.push(viewer?.kind === "user"
            ? `(m.status <> 'DRAFT' OR m.owner_id = ${param(viewer.id)})`
            : "m.status <> 'DRAFT'");
    }
    if (input.status)
        filters.push(`m.status = ${param(input.status)}::"MarketStatus"`);
    if (input.ownerId)
        filters.push(`m.owner_id = ${param(input.ownerId)}`);
    if (input.search) {
        const pattern = param(`%${likeLiteral(input.search)}%`);
        filters.push(`(m.name ILIKE ${pattern} OR m.description ILIKE ${pattern})`);
    }
    const filterValues = [...values];
    const where = (extra) => {
        const all = [...filters, ...extra];
        return all.length > 0 ? `WHERE ${all.join(" AND ")}` : "";
    };
    const tag = `markets:${input.sort}:${input.order}`;
    const after = readCursor(input.cursor, tag, 2);
    const column = SORT_COLUMN[input.sort];
    const dir = input.order === "desc" ? "DESC" : "ASC";
    const beyond = input.order === "desc" ? "<" : ">";
    const keyset = [];
    if (after) {
        const [value, id] = after;
        if (value === undefined || id === undefined)
            throw new ValidationError({ cursor: ["Invalid cursor"] });
        let bound;
        if (input.sort === "createdAt")
            bound = `${param(utcTimestamp(cursorDate(value)))}::timestamp`;
        else if (input.sort === "volume") {
            if (!/^\d{1,20}$/.test(value))
                throw new ValidationError({ cursor: ["Invalid cursor"] });
            bound = `${param(value)}::bigint`;
        }
        else
            bound = param(value);
        const idParam = param(id);
        keyset.push(`(${column} ${beyond} ${bound} OR (${column} = ${bound} AND m.id ${beyond} ${idParam}))`);
    }
    const limit = param(input.limit + 1);
    const from = "FROM markets m JOIN users u ON u.id = m.owner_id";
    const order = `ORDER BY ${column} ${dir}, m.id ${dir}`;
    let rows;
    let total;
    if (!after) {
        rows = await sql.rows(`SELECT ${COLUMNS}, count(*) OVER ()::int AS total ${from} ${where([])} ${order} LIMIT ${limit}`, values);
        total = rows[0]?.total ?? 0;
    }
    else {
        const [page, counted] = await Promise.all([
            sql.rows(`SELECT ${COLUMNS} ${from} ${where(keyset)} ${order} LIMIT ${limit}`, values),
            sql.rows(`SELECT count(*)::int AS total FROM markets m ${where([])}`, filterValues),
        ]);
        rows = page;
        total = counted[0]?.total ?? 0;
    }
    const page = keysetPage(rows, input.limit, (last) => [tag, sortValue(input.sort, last), last.id]);
    return { items: page.items.map(toOutput), nextCursor: page.nextCursor, total };
}
function sortValue(sort, row) {
    switch (sort) {
        case "createdAt":
            return row.createdAt.toISOString();
        case "volume":
            return row.volumeCents;
        case "name":
            return row.name;
    }
}
//# sourceMappingURL=queries.js.map