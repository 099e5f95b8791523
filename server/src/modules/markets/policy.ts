import { isAdmin, isUser, type Principal } from "../../shared/principal.js";

/**
 * Who may see and manage a market: the one home of the rule. Services call the predicates;
 * `markets/queries.ts` filters lists with `visibleMarketsSql`, the same rule as SQL
 * (tests/policies.test.ts runs it against a database and compares it with `canSeeMarket`).
 */

/** The columns a visibility or ownership decision about a market needs. */
export interface MarketAccess {
  ownerId: string;
  status: "DRAFT" | "ACTIVE" | "CLOSED";
}

/** Drafts are for their owner and admins; everyone else is told they do not exist. */
export function canSeeMarket(viewer: Principal | null, market: MarketAccess): boolean {
  return market.status !== "DRAFT" || isAdmin(viewer) || isUser(viewer, market.ownerId);
}

/** Changing, deleting, adding products and listing orders: the owner (a user) or an admin. */
export function canManageMarket(viewer: Principal | null, market: MarketAccess): boolean {
  return isAdmin(viewer) || isUser(viewer, market.ownerId);
}

/**
 * `canSeeMarket` as a SQL condition on `markets <alias>`, or null when the viewer sees every
 * market. `param` binds a value and returns its placeholder.
 */
export function visibleMarketsSql(
  viewer: Principal | null,
  param: (value: string) => string,
  alias = "m",
): string | null {
  if (isAdmin(viewer)) return null;
  if (viewer?.kind === "user")
    return `(${alias}.status <> 'DRAFT' OR ${alias}.owner_id = ${param(viewer.id)})`;
  return `${alias}.status <> 'DRAFT'`;
}
