import type { Principal } from "../../shared/principal.js";
import { canManageMarket, canSeeMarket, type MarketAccess } from "../markets/policy.js";

/**
 * Who may see and manage a product: its market decides. A product is seen by whoever may
 * see its market (a draft market's products are as hidden as the market) and managed
 * (created, changed, deleted) by whoever may manage the market.
 */

export function canSeeProduct(viewer: Principal | null, product: { market: MarketAccess }): boolean {
  return canSeeMarket(viewer, product.market);
}

export function canManageProduct(viewer: Principal | null, product: { market: MarketAccess }): boolean {
  return canManageMarket(viewer, product.market);
}
