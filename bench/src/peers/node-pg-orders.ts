/**
 * The write path's ceiling: node:http and pg placing an order in one round trip, a named
 * prepared call of the same `place_order` function Agora calls (prisma/migrations/
 * *_place_order: market row lock, status check, conditional stock update, order and line
 * inserts, the confirmation job, the volume update, all in one statement), on a pool of 10.
 * No authentication, no input validation beyond the JSON shape, no cache or event work after
 * the commit: what the same machine can place when nothing stands between the socket and the
 * database. The buyer's id comes in the body.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import pg from "pg";

const connectionString = process.env.DATABASE_URL;
if (!connectionString) throw new Error("DATABASE_URL is required");
const pool = new pg.Pool({ connectionString, max: 10 });

const QUEUE = "order-confirmation-mail";
const place = {
  name: "place_order",
  text: "SELECT * FROM place_order($1, $2, $3::text[], $4::int[], $5, $6)",
};

interface PlaceBody {
  userId: string;
  marketId: string;
  items: { productId: string; quantity: number }[];
  idempotencyKey?: string;
}

interface PlaceRow {
  outcome: string;
  order_id: string | null;
  market_id: string | null;
  user_id: string | null;
  status: string | null;
  total_cents: string | null;
  created_at: Date | null;
  items: unknown;
  market_status: string | null;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json) });
  res.end(json);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
}

function isPlaceBody(v: unknown): v is PlaceBody {
  if (typeof v !== "object" || v === null) return false;
  const b = v as Record<string, unknown>;
  return (
    typeof b.userId === "string" &&
    typeof b.marketId === "string" &&
    Array.isArray(b.items) &&
    b.items.length > 0 &&
    b.items.every(
      (i: unknown) =>
        typeof i === "object" &&
        i !== null &&
        typeof (i as Record<string, unknown>).productId === "string" &&
        Number.isInteger((i as Record<string, unknown>).quantity),
    )
  );
}

async function placeOrder(res: ServerResponse, body: PlaceBody): Promise<void> {
  let rows: PlaceRow[];
  try {
    ({ rows } = await pool.query<PlaceRow>({
      ...place,
      values: [
        body.marketId,
        body.userId,
        body.items.map((i) => i.productId),
        body.items.map((i) => i.quantity),
        body.idempotencyKey ?? null,
        QUEUE,
      ],
    }));
  } catch (error) {
    const code = error instanceof Error && "code" in error ? error.code : null;
    if (code === "AGO01") {
      send(res, 400, { error: "No such product in this market" });
      return;
    }
    if (code === "AGO02") {
      send(res, 409, { error: "Not enough stock" });
      return;
    }
    throw error;
  }
  const row = rows[0];
  if (!row || row.outcome === "no_market") {
    send(res, 404, { error: "Market not found" });
    return;
  }
  if (row.outcome === "inactive") {
    send(res, 409, { error: `The market is ${String(row.market_status)}` });
    return;
  }
  send(res, row.outcome === "placed" ? 201 : 200, {
    id: row.order_id,
    marketId: row.market_id,
    userId: row.user_id,
    status: row.status,
    items: row.items,
    totalCents: Number(row.total_cents),
    createdAt: row.created_at,
  });
}

const server = createServer((req, res) => {
  const handle = async (): Promise<void> => {
    if (req.url === "/health") {
      send(res, 200, { status: "ok" });
    } else if (req.url === "/orders" && req.method === "POST") {
      const body = await readJson(req);
      if (!isPlaceBody(body)) send(res, 400, { error: "Bad order" });
      else await placeOrder(res, body);
    } else {
      send(res, 404, { error: "No such route" });
    }
  };
  handle().catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    if (!res.headersSent) send(res, 500, { error: "Internal server error" });
  });
});

const port = Number(process.env.PORT ?? 3004);
server.listen(port, process.env.HOST ?? "127.0.0.1", () => {
  process.stdout.write(`node:http+pg orders listening on ${port}\n`);
});

// Exit cleanly on SIGTERM, so `node --cpu-prof` writes its profile when the bench stops the peer.
process.once("SIGTERM", () => process.exit(0));
