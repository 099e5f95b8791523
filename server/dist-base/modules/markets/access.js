import { isAdmin } from "../../shared/principal.js";
/** Whether `viewer` is the signed-in user `userId` (an API key is never a user). */
export function isUser(viewer, userId) {
    return viewer?.kind === "user" && viewer.id === userId;
}
/** Drafts are for their owner and admins; everyone else is told they do not exist. */
export function canSeeMarket(viewer, market) {
    return market.status !== "DRAFT" || isAdmin(viewer) || isUser(viewer, market.ownerId);
}
export function canManageMarket(viewer, market) {
    return isAdmin(viewer) || isUser(viewer, market.ownerId);
}
/** The same rule as `canSeeMarket`, as a filter for lists. */
export function visibleMarketsWhere(viewer) {
    if (isAdmin(viewer))
        return {};
    if (viewer?.kind === "user")
        return { OR: [{ status: { not: "DRAFT" } }, { ownerId: viewer.id }] };
    return { status: { not: "DRAFT" } };
}
//# sourceMappingURL=access.js.map