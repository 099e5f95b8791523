import type { Role } from "../generated/prisma/enums.js";

export type { Role };

/** Who is calling: a signed-in user (with the session their token belongs to) or an API key. */
export type Principal =
  | {
      readonly kind: "user";
      readonly id: string;
      readonly role: Role;
      readonly sessionId: string;
      /** When the access token this call came with expires (an event stream ends then). */
      readonly tokenExpiresAtMs: number;
    }
  | { readonly kind: "apiKey"; readonly id: string; readonly role: Role };

export function isAdmin(principal: Principal | null): boolean {
  return principal?.role === "ADMIN";
}

/** Whether `principal` is the signed-in user `userId` (an API key is never a user). */
export function isUser(principal: Principal | null, userId: string): boolean {
  return principal?.kind === "user" && principal.id === userId;
}
