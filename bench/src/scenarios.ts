import superjson from "superjson";
import { agoraOrderRequests, fourMarketLines, hotMarketLines, peerOrderRequests } from "./orders-hot.js";
import type { SeedData } from "./seed.js";
import type { HttpRequest } from "./wrk.js";

export type ServerId =
  | "agora"
  | "agora-baseline"
  | "agora-baseline+cache"
  | "agora+cache"
  | "agora+cache+redis"
  | "agora-x2"
  | "agora-pooler"
  | "express-prisma"
  | "express-bare"
  | "fastify-prisma"
  | "fastify-bare"
  | "node-pg"
  | "node-pg-orders";

export interface ServerDef {
  id: ServerId;
  label: string;
  kind: "agora" | "peer";
  /** Shared cache or several workers need Redis; without it the row is skipped. */
  needsRedis: boolean;
  /** Extra environment of an Agora variant. */
  agoraEnv?: Record<string, string>;
  /** Entry of an Agora variant, relative to the repository (default server/dist/main.js). */
  agoraEntry?: string;
  /** Entry of a peer under bench/src/peers/. */
  peerEntry?: string;
  /** Where the harness polls until the server is up. */
  readyPath: string;
}

/**
 * BENCH_BASELINE=server/dist-base/main.js: another build of Agora (e.g. the last commit's,
 * built and copied under server/ so it resolves the same node_modules) measured beside
 * "agora" in every scenario that has it, in the same interleaved rounds: the A/B of a change.
 */
export const BASELINE = process.env.BENCH_BASELINE?.trim() ?? "";

export const SERVERS: readonly ServerDef[] = [
  {
    id: "agora",
    label: "agora",
    kind: "agora",
    needsRedis: false,
    agoraEnv: { CACHE_ENABLED: "false" },
    readyPath: "/readyz",
  },
  ...(BASELINE
    ? [
        {
          id: "agora-baseline" as const,
          label: "agora (baseline build)",
          kind: "agora" as const,
          needsRedis: false,
          agoraEnv: { CACHE_ENABLED: "false" },
          agoraEntry: BASELINE,
          readyPath: "/readyz",
        },
        {
          id: "agora-baseline+cache" as const,
          label: "agora+cache (baseline build)",
          kind: "agora" as const,
          needsRedis: false,
          agoraEnv: { CACHE_ENABLED: "true" },
          agoraEntry: BASELINE,
          readyPath: "/readyz",
        },
      ]
    : []),
  {
    // One instance, its cache in process (no REDIS_URL): the single-instance default.
    id: "agora+cache",
    label: "agora+cache",
    kind: "agora",
    needsRedis: false,
    agoraEnv: { CACHE_ENABLED: "true" },
    readyPath: "/readyz",
  },
  {
    // The cache shared through Redis, as several instances run it.
    id: "agora+cache+redis",
    label: "agora+cache (Redis)",
    kind: "agora",
    needsRedis: true,
    agoraEnv: { CACHE_ENABLED: "true" },
    readyPath: "/readyz",
  },
  {
    // Two workers sharing the cache through Redis: against agora+cache (Redis), one worker
    // with the same configuration, it shows what the second core adds (issue 29, target 6).
    id: "agora-x2",
    label: "agora+cache (Redis) x2 workers",
    kind: "agora",
    needsRedis: true,
    agoraEnv: { CACHE_ENABLED: "true", WEB_CONCURRENCY: "2" },
    readyPath: "/readyz",
  },
  {
    // What DB_POOLER=transaction costs (behind PgBouncer in transaction mode): the hot reads as
    // unnamed statements, parsed and planned on every call. Connected to PostgreSQL directly,
    // so the difference is the statements alone, not PgBouncer's hop.
    id: "agora-pooler",
    label: "agora, DB_POOLER=transaction",
    kind: "agora",
    needsRedis: false,
    agoraEnv: { CACHE_ENABLED: "false", DB_POOLER: "transaction" },
    readyPath: "/readyz",
  },
  {
    id: "express-prisma",
    label: "express 5 + Prisma 6",
    kind: "peer",
    needsRedis: false,
    peerEntry: "express-prisma.ts",
    readyPath: "/health",
  },
  {
    id: "express-bare",
    label: "bare express 5",
    kind: "peer",
    needsRedis: false,
    peerEntry: "express-bare.ts",
    readyPath: "/health",
  },
  {
    id: "fastify-prisma",
    label: "Fastify 5 + Prisma 6",
    kind: "peer",
    needsRedis: false,
    peerEntry: "fastify-prisma.ts",
    readyPath: "/health",
  },
  {
    id: "fastify-bare",
    label: "bare Fastify 5",
    kind: "peer",
    needsRedis: false,
    peerEntry: "fastify-bare.ts",
    readyPath: "/health",
  },
  {
    id: "node-pg",
    label: "node:http + pg",
    kind: "peer",
    needsRedis: false,
    peerEntry: "node-pg.ts",
    readyPath: "/health",
  },
  {
    // The write path's ceiling: one prepared call of place_order per order (orders-hot.ts).
    id: "node-pg-orders",
    label: "node:http + pg, one call",
    kind: "peer",
    needsRedis: false,
    peerEntry: "node-pg-orders.ts",
    readyPath: "/health",
  },
];

export function serverDef(id: ServerId): ServerDef {
  const def = SERVERS.find((s) => s.id === id);
  if (!def) throw new Error(`unknown server ${id}`);
  return def;
}

export type ScenarioId =
  | "health.live"
  | "markets.byId"
  | "markets.list"
  | "users.me"
  | "users.byId"
  | "users.byId x10 batch"
  | "orders.create"
  | "orders.create hot market"
  | "health.live + logins";

/** What the scenarios need besides the seeded rows: tokens from logging in once. */
export interface Fixtures {
  seed: SeedData;
  /** One access token per buyer, in the order of `seed.buyers`. */
  buyerTokens: string[];
  /** One access token per hot-market buyer, in the order of `seed.hotBuyers`. */
  hotBuyerTokens: string[];
}

export interface Scenario {
  id: ScenarioId;
  title: string;
  servers: readonly ServerId[];
  requests(server: ServerDef, fx: Fixtures): HttpRequest[];
  /** Runs with the login load (8 auth.login/s at bcrypt cost 12) in a separate process. */
  withLogins?: boolean;
}

// Exactly what the tRPC client sends: superjson's `{ json, meta? }` as the input.
const encode = (input: unknown) => encodeURIComponent(JSON.stringify(superjson.serialize(input)));

export function trpcGet(procedure: string, input?: unknown, headers?: Record<string, string>): HttpRequest {
  return {
    method: "GET",
    path: `/trpc/${procedure}${input === undefined ? "" : `?input=${encode(input)}`}`,
    ...(headers ? { headers } : {}),
  };
}

export function trpcBatchGet(procedure: string, inputs: readonly unknown[]): HttpRequest {
  const batch = Object.fromEntries(inputs.map((input, i) => [String(i), superjson.serialize(input)]));
  return {
    method: "GET",
    path: `/trpc/${inputs.map(() => procedure).join(",")}?batch=1&input=${encodeURIComponent(JSON.stringify(batch))}`,
  };
}

export function trpcPost(
  procedure: string,
  input: unknown,
  headers: Record<string, string> = {},
): HttpRequest {
  return {
    method: "POST",
    path: `/trpc/${procedure}`,
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(superjson.serialize(input)),
  };
}

const get = (path: string): HttpRequest => ({ method: "GET", path });
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** mulberry32: a small deterministic generator, so every run sends the same batches. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const AGORA_VARIANTS: readonly ServerId[] = [
  "agora",
  ...(BASELINE ? (["agora-baseline"] as const) : []),
  "agora+cache",
  ...(BASELINE ? (["agora-baseline+cache"] as const) : []),
  "agora+cache+redis",
  "agora-x2",
];
const PLAIN_AGORA: readonly ServerId[] = ["agora", ...(BASELINE ? (["agora-baseline"] as const) : [])];
const DB_PEERS = ["express-prisma", "fastify-prisma", "node-pg"] as const;

export const SCENARIOS: readonly Scenario[] = [
  {
    id: "health.live",
    title: "health.live / GET /health (framework floor)",
    servers: [...AGORA_VARIANTS, ...DB_PEERS, "express-bare", "fastify-bare"],
    requests: (s) => [s.kind === "agora" ? trpcGet("health.live") : get("/health")],
  },
  {
    id: "markets.byId",
    title: "markets.byId (one market with its owner; id varies over 1,800 rows)",
    servers: [...AGORA_VARIANTS, "agora-pooler", ...DB_PEERS],
    requests: (s, fx) =>
      fx.seed.visibleMarketIds.map((id) =>
        s.kind === "agora" ? trpcGet("markets.byId", { id }) : get(`/markets/${encodeURIComponent(id)}`),
      ),
  },
  {
    id: "markets.list",
    title: "markets.list (first page of 20 with owners and total)",
    servers: [...AGORA_VARIANTS, "agora-pooler", ...DB_PEERS],
    requests: (s) => [s.kind === "agora" ? trpcGet("markets.list", { limit: 20 }) : get("/markets?limit=20")],
  },
  {
    id: "users.me",
    title: "users.me (authenticated: JWT + session check + read; 16 users)",
    servers: [...PLAIN_AGORA, "agora+cache"],
    requests: (_s, fx) => fx.buyerTokens.map((t) => trpcGet("users.me", undefined, bearer(t))),
  },
  {
    id: "users.byId",
    title: "users.byId (anonymous; id varies over 100 users)",
    servers: [...PLAIN_AGORA, "agora+cache"],
    requests: (_s, fx) => fx.seed.userIds.map((id) => trpcGet("users.byId", { id })),
  },
  {
    id: "users.byId x10 batch",
    title: "ten users.byId as one tRPC batch request",
    servers: PLAIN_AGORA,
    requests: (_s, fx) => {
      const random = seededRandom(42);
      const pick = () => fx.seed.userIds[Math.floor(random() * fx.seed.userIds.length)] ?? "";
      return Array.from({ length: 200 }, () =>
        trpcBatchGet(
          "users.byId",
          Array.from({ length: 10 }, () => ({ id: pick() })),
        ),
      );
    },
  },
  {
    id: "orders.create",
    title: "orders.create under contention (16 buyers, 4 markets, 1 line each)",
    servers: [...PLAIN_AGORA, "node-pg-orders"],
    requests: (s, fx) =>
      s.kind === "agora"
        ? agoraOrderRequests(fx.buyerTokens, fourMarketLines(fx.seed))
        : peerOrderRequests(
            fx.seed.buyers.map((b) => b.id),
            fourMarketLines(fx.seed),
          ),
  },
  {
    id: "orders.create hot market",
    title: "orders.create on ONE market (32 buyers, one product with ample stock: a flash sale)",
    servers: [...PLAIN_AGORA, "node-pg-orders"],
    requests: (s, fx) =>
      s.kind === "agora"
        ? agoraOrderRequests(fx.hotBuyerTokens, hotMarketLines(fx.seed))
        : peerOrderRequests(
            fx.seed.hotBuyers.map((b) => b.id),
            hotMarketLines(fx.seed),
          ),
  },
  {
    id: "health.live + logins",
    title: "health.live while another process runs auth.login at a fixed rate (bcrypt cost 12)",
    servers: PLAIN_AGORA,
    requests: () => [trpcGet("health.live")],
    withLogins: true,
  },
];
