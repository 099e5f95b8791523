import { SuccessOutput } from "../../shared/schemas.js";
import {
  adminProcedure,
  protectedProcedure,
  publicProcedure,
  router,
  userProcedure,
} from "../../trpc/init.js";
import {
  SetRoleInput,
  UpdateMeInput,
  UserIdInput,
  UserListInput,
  UserPage,
  UserPublic,
  UserUpdateInput,
} from "./schemas.js";

export const usersRouter = router({
  me: userProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/users/me",
        tags: ["users"],
        summary: "The signed-in user",
      },
    })
    .output(UserPublic)
    .query(({ ctx }) => ctx.services.users.byId(ctx.principal, ctx.principal.id)),

  updateMe: userProcedure
    .meta({
      openapi: {
        method: "PATCH",
        path: "/users/me",
        tags: ["users"],
        summary: "Change the signed-in user's name or username",
      },
    })
    .input(UpdateMeInput)
    .output(UserPublic)
    .mutation(({ ctx, input }) => ctx.services.users.update(ctx.principal, ctx.principal.id, input)),

  byId: publicProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/users/{id}",
        tags: ["users"],
        summary: "A user's public profile",
      },
    })
    .input(UserIdInput)
    .output(UserPublic)
    .query(({ ctx, input }) => ctx.services.users.byId(ctx.principal, input.id)),

  list: adminProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/users",
        tags: ["users"],
        summary: "List users, with their emails (admin)",
        description: "Searches username, name and email when `search` is given; newest first.",
      },
    })
    .input(UserListInput)
    .output(UserPage)
    .query(({ ctx, input }) => ctx.services.users.list(ctx.principal, input)),

  update: protectedProcedure
    .meta({
      openapi: {
        method: "PATCH",
        path: "/users/{id}",
        tags: ["users"],
        summary: "Change a user (that user or an admin)",
      },
    })
    .input(UserUpdateInput)
    .output(UserPublic)
    .mutation(({ ctx, input }) => ctx.services.users.update(ctx.principal, input.id, input.data)),

  setRole: adminProcedure
    .meta({
      openapi: {
        method: "PUT",
        path: "/users/{id}/role",
        tags: ["users"],
        summary: "Set a user's role (admin)",
        errors: ["NOT_FOUND"],
      },
    })
    .input(SetRoleInput)
    .output(UserPublic)
    .mutation(({ ctx, input }) => ctx.services.users.setRole(ctx.principal, input.id, input.role)),

  delete: adminProcedure
    .meta({
      openapi: {
        method: "DELETE",
        path: "/users/{id}",
        tags: ["users"],
        summary: "Delete a user (admin)",
      },
    })
    .input(UserIdInput)
    .output(SuccessOutput)
    .mutation(async ({ ctx, input }) => {
      await ctx.services.users.delete(input.id);
      return { success: true as const };
    }),
});
