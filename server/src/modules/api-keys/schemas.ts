import { z } from "zod";
import { Id } from "../../shared/schemas.js";
import { RoleSchema } from "../users/schemas.js";

export const ApiKeyCreateInput = z.object({
  name: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .describe("A name to recognise the key by, e.g. the script that uses it"),
  role: RoleSchema.default("USER").describe(
    "The role the key acts with: USER calls as a signed-in user, ADMIN as an admin",
  ),
  expiresAt: z
    .date()
    .refine((d) => d.getTime() > Date.now(), "Must be in the future")
    // PostgreSQL's timestamp ends with the year 9999 (JavaScript's Date goes to 275760).
    .refine((d) => d.getUTCFullYear() <= 9999, "Must be before the year 10000")
    .optional()
    .describe("When the key stops working; omit for a key that never expires"),
});
export type ApiKeyCreateInput = z.infer<typeof ApiKeyCreateInput>;

export const ApiKeyCreated = z.object({
  id: z.string().describe("The key's id, for apiKeys.revoke"),
  name: z.string().describe("The name given to the key"),
  key: z.string().describe("The key itself, shown this once only: send it as the X-Api-Key header"),
});

export const ApiKeyOutput = z.object({
  id: z.string().describe("The key's id"),
  name: z.string().describe("The name given to the key"),
  prefix: z
    .string()
    .describe("The key's first characters, to tell keys apart (the key itself is never shown again)"),
  role: RoleSchema.describe("The role the key acts with"),
  expiresAt: z.date().nullable().describe("When the key stops working; null: never"),
  revokedAt: z.date().nullable().describe("When the key was revoked; null while it works"),
  lastUsedAt: z.date().nullable().describe("When the key was last used; null: never"),
  createdAt: z.date().describe("When the key was created"),
});

export const ApiKeyIdInput = z.object({ id: Id.describe("The API key's id (apiKeys.list)") });
