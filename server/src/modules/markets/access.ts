import type { Prisma } from "../../generated/prisma/client.js";
import { isAdmin, type Principal } from "../../shared/principal.js";

/** The columns a visibility or ownership decision about a market needs. */
export interface MarketAccess {
  ownerId: string;
  status: "DRAFT" | "ACTIVE" | "CLOSED";
}

/** Whether `viewer` is the signed-in user `userId` (an API key is never a user). */
export function isUser(viewer: Principal | null, userId: string): boolean {
  return viewer?.kind === "user" && viewer.id === userId;
}

/** Drafts are for their owner and admins; everyone else is told they do not exist. */
export function canSeeMarket(viewer: Principal | null, market: MarketAccess): boolean {
  return market.status !== "DRAFT" || isAdmin(viewer) || isUser(viewer, market.ownerId);
}

export function canManageMarket(viewer: Principal | null, market: MarketAccess): boolean {
  return isAdmin(viewer) || isUser(viewer, market.ownerId);
}

/** The same rule as `canSeeMarket`, as a filter for lists. */
export function visibleMarketsWhere(viewer: Principal | null): Prisma.MarketWhereInput {
  if (isAdmin(viewer)) return {};
  if (viewer?.kind === "user") return { OR: [{ status: { not: "DRAFT" } }, { ownerId: viewer.id }] };
  return { status: { not: "DRAFT" } };
}
