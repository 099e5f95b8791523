/**
 * The same peer as express-prisma.ts on Fastify 5: the same schema, the same generated client
 * and the same pg driver adapter as Agora, plain REST routes, no tuning beyond what the Prisma
 * and Fastify docs show (no response schemas, logger off as in the express peer).
 */
import { PrismaPg } from "@prisma/adapter-pg";
import Fastify from "fastify";
import { PrismaClient, type Prisma } from "../../../server/src/generated/prisma/client.js";

const connectionString = process.env.DATABASE_URL;
if (!connectionString) throw new Error("DATABASE_URL is required");

const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString }) });
const app = Fastify({ logger: false });

const withOwner = { owner: { select: { id: true, username: true } } } satisfies Prisma.MarketInclude;
type MarketWithOwner = Prisma.MarketGetPayload<{ include: typeof withOwner }>;

// BigInt does not survive JSON.stringify: send cents as a number.
const toJson = (m: MarketWithOwner) => ({ ...m, volumeCents: Number(m.volumeCents) });

app.get("/health", () => ({ status: "ok" }));

app.get<{ Params: { id: string } }>("/markets/:id", async (req, reply) => {
  const market = await prisma.market.findUnique({ where: { id: req.params.id }, include: withOwner });
  if (!market || market.status === "DRAFT") return reply.code(404).send({ error: "Market not found" });
  return toJson(market);
});

app.get<{ Querystring: { limit?: string } }>("/markets", async (req) => {
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
  return { items: items.map(toJson), total };
});

const port = Number(process.env.PORT ?? 3005);
await app.listen({ port, host: process.env.HOST ?? "127.0.0.1" });
process.stdout.write(`fastify+prisma listening on ${port}\n`);

// Exit cleanly on SIGTERM, so `node --cpu-prof` writes its profile when the bench stops the peer.
process.once("SIGTERM", () => process.exit(0));
