import { z } from "zod";
import { PageInput, pageOutputWithTotal } from "../../shared/pagination.js";
import { Id } from "../../shared/schemas.js";

// The account's fields, as registration (auth/) and changes (here) accept them.
// `.meta()`: what the OpenAPI document shows of a rule zod cannot express in JSON Schema (a
// pipe documents only its first schema; refinements not at all). Validation is unchanged.
export const Email = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.email("Must be a valid email address").max(254))
  .meta({ format: "email", maxLength: 254, examples: ["ada@example.com"] });

export const Username = z
  .string()
  .regex(/^[A-Za-z0-9_]{3,30}$/, "Must be 3 to 30 characters: letters, digits or underscores");

export const DisplayName = z.string().trim().min(1, "Must not be empty").max(100);

export const RoleSchema = z.enum(["USER", "ADMIN"]);

export const UserPublic = z.object({
  id: z.string().describe("The user's id"),
  username: z.string().describe("The user's public handle"),
  name: z.string().nullable().describe("The display name; null: none"),
  role: RoleSchema.describe("USER, or ADMIN: may manage every user and everything"),
  createdAt: z.date().describe("When the account was created"),
  /** Present only when the caller is this user or an admin. */
  email: z.string().optional().describe("The email address: present only for this user and admins"),
});
export type UserPublic = z.infer<typeof UserPublic>;

export const UserIdInput = z.object({ id: Id.describe("The user's id") });

export const UpdateMeInput = z.object({
  name: DisplayName.nullable().optional().describe("A new display name; null removes it"),
  username: Username.optional().describe("A new handle: 3 to 30 letters, digits or underscores"),
});
export type UpdateMeInput = z.infer<typeof UpdateMeInput>;

export const UserUpdateInput = z.object({
  id: Id.describe("The user's id"),
  data: z
    .object({
      name: DisplayName.nullable().optional().describe("A new display name; null removes it"),
      username: Username.optional().describe("A new handle: 3 to 30 letters, digits or underscores"),
      email: Email.optional().describe("A new email address"),
    })
    .describe("The fields to change; the others are left as they are"),
});
export type UserUpdateData = z.infer<typeof UserUpdateInput>["data"];

export const UserListInput = PageInput.extend({
  search: z
    .string()
    .trim()
    .max(100)
    .optional()
    .describe("Only users whose username, email or name contains this text (any case)"),
});
export type UserListInput = z.infer<typeof UserListInput>;

export const UserPage = pageOutputWithTotal(UserPublic);

export const SetRoleInput = z.object({
  id: Id.describe("The user's id"),
  role: RoleSchema.describe("The new role: ADMIN may manage every user and everything"),
});
