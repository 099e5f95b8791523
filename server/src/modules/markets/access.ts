/**
 * The market policy under its former name, for orders/service.ts only (being rewritten on
 * another branch): import from `./policy.js`, and delete this file once nothing imports it.
 */
export { canManageMarket, canSeeMarket, type MarketAccess } from "./policy.js";
export { isUser } from "../../shared/principal.js";
