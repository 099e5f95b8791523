/**
 * The ceiling: node:http and pg with named prepared statements, one JOIN per read, a pool of
 * 10. What the same machine can serve when nothing stands between the socket and the driver.
 */
import { createServer, type ServerResponse } from "node:http";
import pg from "pg";

const connectionString = process.env.DATABASE_URL;
if (!connectionString) throw new Error("DATABASE_URL is required");
const pool = new pg.Pool({ connectionString, max: 10 });

const MARKET_COLUMNS = `m.id, m.name, m.description, m.status, m.volume_cents::float8 AS "volumeCents",
  m.created_at AS "createdAt", m.updated_at AS "updatedAt", u.id AS "ownerId", u.username AS "ownerUsername"`;

const byId = {
  name: "market_by_id",
  text: `SELECT ${MARKET_COLUMNS} FROM markets m JOIN users u ON u.id = m.owner_id
         WHERE m.id = $1 AND m.status <> 'DRAFT'`,
};
const page = {
  name: "market_page",
  text: `SELECT ${MARKET_COLUMNS} FROM markets m JOIN users u ON u.id = m.owner_id
         WHERE m.status <> 'DRAFT' ORDER BY m.created_at DESC, m.id DESC LIMIT $1`,
};
const count = {
  name: "market_count",
  text: `SELECT count(*)::int AS total FROM markets WHERE status <> 'DRAFT'`,
};

interface MarketRow {
  id: string;
  name: string;
  description: string | null;
  status: string;
  volumeCents: number;
  createdAt: Date;
  updatedAt: Date;
  ownerId: string;
  ownerUsername: string;
}

const toJson = (r: MarketRow) => ({
  id: r.id,
  name: r.name,
  description: r.description,
  status: r.status,
  volumeCents: r.volumeCents,
  owner: { id: r.ownerId, username: r.ownerUsername },
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json) });
  res.end(json);
}

const server = createServer((req, res) => {
  const url = req.url ?? "/";
  const handle = async (): Promise<void> => {
    if (url === "/health") {
      send(res, 200, { status: "ok" });
    } else if (url.startsWith("/markets/")) {
      const id = decodeURIComponent(url.slice("/markets/".length));
      const { rows } = await pool.query<MarketRow>({ ...byId, values: [id] });
      const row = rows[0];
      if (row) send(res, 200, toJson(row));
      else send(res, 404, { error: "Market not found" });
    } else if (url === "/markets" || url.startsWith("/markets?")) {
      const limit = Math.min(
        Math.max(Number(new URL(url, "http://x").searchParams.get("limit")) || 20, 1),
        100,
      );
      const [items, total] = await Promise.all([
        pool.query<MarketRow>({ ...page, values: [limit] }),
        pool.query<{ total: number }>(count),
      ]);
      send(res, 200, { items: items.rows.map(toJson), total: total.rows[0]?.total ?? 0 });
    } else {
      send(res, 404, { error: "No such route" });
    }
  };
  handle().catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    if (!res.headersSent) send(res, 500, { error: "Internal server error" });
  });
});

const port = Number(process.env.PORT ?? 3003);
server.listen(port, process.env.HOST ?? "127.0.0.1", () => {
  process.stdout.write(`node:http+pg listening on ${port}\n`);
});

// Exit cleanly on SIGTERM, so `node --cpu-prof` writes its profile when the bench stops the peer.
process.once("SIGTERM", () => process.exit(0));
