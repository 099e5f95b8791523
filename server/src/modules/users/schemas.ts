import { z } from "zod";
import { PageInput, pageOutputWithTotal } from "../../shared/pagination.js";
import { Id } from "../../shared/schemas.js";
import { DisplayName, Email, Username } from "../auth/schemas.js";

export const RoleSchema = z.enum(["USER", "ADMIN"]);

export const UserPublic = z.object({
  id: z.string(),
  username: z.string(),
  name: z.string().nullable(),
  role: RoleSchema,
  createdAt: z.date(),
  email: z.string().optional().describe("Present only when the caller is this user or an admin"),
});
export type UserPublic = z.infer<typeof UserPublic>;

export const UserIdInput = z.object({ id: Id });

export const UpdateMeInput = z.object({
  name: DisplayName.nullable().optional(),
  username: Username.optional(),
});
export type UpdateMeInput = z.infer<typeof UpdateMeInput>;

export const UserUpdateInput = z.object({
  id: Id,
  data: z.object({
    name: DisplayName.nullable().optional(),
    username: Username.optional(),
    email: Email.optional(),
  }),
});
export type UserUpdateData = z.infer<typeof UserUpdateInput>["data"];

export const UserListInput = PageInput.extend({ search: z.string().trim().max(100).optional() });
export type UserListInput = z.infer<typeof UserListInput>;

export const UserPage = pageOutputWithTotal(UserPublic);

export const SetRoleInput = z.object({ id: Id, role: RoleSchema });
