import { z } from "zod";
import { Id } from "../../shared/schemas.js";
import { RoleSchema } from "../users/schemas.js";

export const ApiKeyCreateInput = z.object({
  name: z.string().trim().min(1).max(100),
  role: RoleSchema.default("USER"),
  expiresAt: z
    .date()
    .refine((d) => d.getTime() > Date.now(), "Must be in the future")
    // PostgreSQL's timestamp ends with the year 9999 (JavaScript's Date goes to 275760).
    .refine((d) => d.getUTCFullYear() <= 9999, "Must be before the year 10000")
    .optional(),
});
export type ApiKeyCreateInput = z.infer<typeof ApiKeyCreateInput>;

export const ApiKeyCreated = z.object({ id: z.string(), name: z.string(), key: z.string() });

export const ApiKeyOutput = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  role: RoleSchema,
  expiresAt: z.date().nullable(),
  revokedAt: z.date().nullable(),
  lastUsedAt: z.date().nullable(),
  createdAt: z.date(),
});

export const ApiKeyIdInput = z.object({ id: Id });
