import type { User } from "../../generated/prisma/client.js";
import type { Principal } from "../../shared/principal.js";
import type { UserPublic } from "./schemas.js";

/** The public view of a user; the email only for that user ("self") and admins. */
export function toUserPublic(user: User, viewer: Principal | null | "self"): UserPublic {
  const seesEmail =
    viewer === "self" ||
    (viewer !== null && (viewer.role === "ADMIN" || (viewer.kind === "user" && viewer.id === user.id)));
  return {
    id: user.id,
    username: user.username,
    name: user.name,
    role: user.role,
    createdAt: user.createdAt,
    ...(seesEmail ? { email: user.email } : {}),
  };
}
