import { isAdmin, isUser, type Principal } from "../../shared/principal.js";

/** Who may see a user's email and change a user. Anyone may see a user's public profile. */

/** The user themselves (signed in, not through an API key) and admins. */
export function canSeeUserEmail(viewer: Principal | null, user: { id: string }): boolean {
  return isAdmin(viewer) || isUser(viewer, user.id);
}

/** The user themselves and admins; anyone else is refused (FORBIDDEN: the user is public). */
export function canUpdateUser(viewer: Principal | null, user: { id: string }): boolean {
  return isAdmin(viewer) || isUser(viewer, user.id);
}
