import { isAdmin, isUser, type Principal } from "../../shared/principal.js";

/** The columns a decision about an order needs. */
export interface OrderAccess {
  /** The buyer. */
  userId: string;
  /** The owner of the order's market. */
  marketOwnerId: string;
}

/** The buyer, the market's owner and admins may see an order; to anyone else it does not exist. */
export function canSeeOrder(viewer: Principal | null, order: OrderAccess): boolean {
  return isAdmin(viewer) || isUser(viewer, order.userId) || isUser(viewer, order.marketOwnerId);
}

/** The buyer or an admin may cancel; the market's owner sees the order but may not cancel it. */
export function canCancelOrder(viewer: Principal | null, order: OrderAccess): boolean {
  return isAdmin(viewer) || isUser(viewer, order.userId);
}
