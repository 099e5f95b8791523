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
    /** Present only when the caller is this user or an admin. */
    email: z.string().optional(),
});
export const UserIdInput = z.object({ id: Id });
export const UpdateMeInput = z.object({
    name: DisplayName.nullable().optional(),
    username: Username.optional(),
});
export const UserUpdateInput = z.object({
    id: Id,
    data: z.object({
        name: DisplayName.nullable().optional(),
        username: Username.optional(),
        email: Email.optional(),
    }),
});
export const UserListInput = PageInput.extend({ search: z.string().trim().max(100).optional() });
export const UserPage = pageOutputWithTotal(UserPublic);
export const SetRoleInput = z.object({ id: Id, role: RoleSchema });
//# sourceMappingURL=schemas.js.map