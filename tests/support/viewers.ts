import type { Principal } from "@agora/server/testing";

/**
 * Every kind of caller a policy decides about, around one user (`owner`): anonymous, another
 * user, the owner, an admin, and API keys of either role (an API key is never a user, even
 * when it shares an id). `ownerId` and `otherId` are the users' ids.
 */
export function viewersAround(ownerId: string, otherId: string) {
  const user = (id: string, role: "USER" | "ADMIN" = "USER"): Principal => ({
    kind: "user",
    id,
    role,
    sessionId: `session-${id}`,
    tokenExpiresAtMs: Number.MAX_SAFE_INTEGER,
  });
  return {
    anonymous: null,
    user: user(otherId),
    owner: user(ownerId),
    admin: user(`admin-of-${ownerId}`, "ADMIN"),
    apiKey: { kind: "apiKey", id: ownerId, role: "USER" },
    adminApiKey: { kind: "apiKey", id: `key-of-${ownerId}`, role: "ADMIN" },
  } satisfies Record<string, Principal | null>;
}

export type ViewerName = keyof ReturnType<typeof viewersAround>;
