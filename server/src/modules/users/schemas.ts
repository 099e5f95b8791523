import { z } from "zod";
import { PageInput, pageOutputWithTotal } from "../../shared/pagination.js";
import { Id } from "../../shared/schemas.js";
import { DisplayName, Email, Username } from "../auth/schemas.js";

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
