/**
 * The write path's scenarios (issue 29, target 7): orders.create on four markets (16 buyers,
 * one line each: orders of a market queue on its row lock) and on ONE hot market (32 buyers,
 * one product with ample stock: a flash sale, where every order waits for the one before it).
 * Agora is called as the tRPC client calls it; the ceiling peer (peers/node-pg-orders.ts) gets
 * the same orders as plain JSON with the buyer's id in the body.
 */
import superjson from "superjson";
import type { SeedData } from "./seed.js";
import type { HttpRequest } from "./wrk.js";

/** Buyers of the single-hot-market scenario. */
export const HOT_MARKET_BUYERS = 32;

export interface OrderLine {
  marketId: string;
  productId: string;
}

/** Every line of the four hot markets (the orders.create scenario). */
export function fourMarketLines(seed: SeedData): OrderLine[] {
  return seed.hotMarkets.flatMap((m) =>
    m.productIds.map((productId) => ({ marketId: m.marketId, productId })),
  );
}

/** The one product of the one hot market (the flash-sale scenario). */
export function hotMarketLines(seed: SeedData): OrderLine[] {
  const market = seed.hotMarkets[0];
  const productId = market?.productIds[0];
  if (!market || !productId) throw new Error("the seed has no hot market");
  return [{ marketId: market.marketId, productId }];
}

/** One request per buyer and line: `orders.create` with the buyer's access token. */
export function agoraOrderRequests(tokens: readonly string[], lines: readonly OrderLine[]): HttpRequest[] {
  return tokens.flatMap((token) =>
    lines.map((line) => ({
      method: "POST" as const,
      path: "/trpc/orders.create",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify(
        superjson.serialize({ marketId: line.marketId, items: [{ productId: line.productId, quantity: 1 }] }),
      ),
    })),
  );
}

/** The same orders for the ceiling peer: POST /orders with the buyer's id. */
export function peerOrderRequests(userIds: readonly string[], lines: readonly OrderLine[]): HttpRequest[] {
  return userIds.flatMap((userId) =>
    lines.map((line) => ({
      method: "POST" as const,
      path: "/orders",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        userId,
        marketId: line.marketId,
        items: [{ productId: line.productId, quantity: 1 }],
      }),
    })),
  );
}
