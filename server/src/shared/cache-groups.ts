/**
 * The cache groups of Agora's cached reads: an entry lists the groups it depends on, and a
 * write bumps the groups whose entries it changes (see infra/cache/cache.ts). Kept in one place
 * because writes in one domain change reads of another (an order changes a market's volume
 * and its products' stock).
 */
export const cacheGroups = {
  /** `markets.byId` of one market. */
  market: (id: string) => `market:${id}`,
  /** Every cached page of `markets.list`. */
  marketLists: "markets",
  /** `products.byId` of one product. */
  product: (id: string) => `product:${id}`,
  /** The cached pages of `products.list` of one market. */
  productsOf: (marketId: string) => `products:${marketId}`,
  /** `users.byId` / `users.me` of one user. */
  user: (id: string) => `user:${id}`,
  /** The live-session checks of every session of one user. */
  sessionsOf: (userId: string) => `sessions:${userId}`,
  /** Every API key lookup. */
  apiKeys: "api-keys",
} as const;
