/**
 * The peer a typical team would write: express 5 + Prisma 6, the same schema, the same
 * generated client and the same pg driver adapter as Agora. Plain REST, `express.json()`,
 * no tuning beyond what the Prisma docs show.
 */
import { PrismaPg } from "@prisma/adapter-pg";
import express from "express";
import { PrismaClient, type Prisma } from "../../../server/src/generated/prisma/client.js";

const connectionString = process.env.DATABASE_URL;
if (!connectionString) throw new Error("DATABASE_URL is required");

const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString }) });
const app = express();
app.use(express.json());

const withOwner = { owner: { select: { id: true, username: true } } } satisfies Prisma.MarketInclude;
type MarketWithOwner = Prisma.MarketGetPayload<{ include: typeof withOwner }>;

// BigInt does not survive JSON.stringify: send cents as a number.
const toJson = (m: MarketWithOwner) => ({ ...m, volumeCents: Number(m.volumeCents) });

app.get("/health", (_req, res) => {
  res.json({ status: "ok" });
});

app.get("/markets/:id", async (req, res) => {
  const market = await prisma.market.findUnique({ where: { id: req.params.id }, include: withOwner });
  if (!market || market.status === "DRAFT") {
    res.status(404).json({ error: "Market not found" });
    return;
  }
  res.json(toJson(market));
});

app.get("/markets", async (req, res) => {
  const limit = Math.min(Math.max(Number(req.query.limit) || 20, 1), 100);
  const where: Prisma.MarketWhereInput = { status: { not: "DRAFT" } };
  const [items, total] = await Promise.all([
    prisma.market.findMany({
      where,
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: limit,
      include: withOwner,
    }),
    prisma.market.count({ where }),
  ]);
  res.json({ items: items.map(toJson), total });
});

app.get("/users/:id", async (req, res) => {
  const user = await prisma.user.findUnique({
    where: { id: req.params.id },
    select: { id: true, username: true, name: true, role: true, createdAt: true },
  });
  if (!user) {
    res.status(404).json({ error: "User not found" });
    return;
  }
  res.json(user);
});

const port = Number(process.env.PORT ?? 3001);
app.listen(port, process.env.HOST ?? "127.0.0.1", () => {
  process.stdout.write(`express+prisma listening on ${port}\n`);
});

// Exit cleanly on SIGTERM, so `node --cpu-prof` writes its profile when the bench stops the peer.
process.once("SIGTERM", () => process.exit(0));
