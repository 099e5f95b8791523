import type { User } from "../../generated/prisma/client.js";
import type { Principal } from "../../shared/principal.js";
import { canSeeUserEmail } from "./policy.js";
import type { UserPublic } from "./schemas.js";

/** What any read of a user needs: never the password hash, so it is safe to cache. */
export type UserView = Pick<User, "id" | "email" | "username" | "name" | "role" | "createdAt">;

export const userViewSelect = {
  id: true,
  email: true,
  username: true,
  name: true,
  role: true,
  createdAt: true,
} as const;

export function toUserView(user: UserView): UserView {
  return {
    id: user.id,
    email: user.email,
    username: user.username,
    name: user.name,
    role: user.role,
    createdAt: user.createdAt,
  };
}

/** The public view of a user; the email only for that user ("self") and admins. */
export function toUserPublic(user: UserView, viewer: Principal | null | "self"): UserPublic {
  const seesEmail = viewer === "self" || canSeeUserEmail(viewer, user);
  return {
    id: user.id,
    username: user.username,
    name: user.name,
    role: user.role,
    createdAt: user.createdAt,
    ...(seesEmail ? { email: user.email } : {}),
  };
}
