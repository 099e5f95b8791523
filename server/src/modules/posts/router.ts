import { SuccessOutput } from "../../shared/schemas.js";
import { protectedProcedure, publicProcedure, router, userProcedure } from "../../trpc/init.js";
import {
  PostCreateInput,
  PostIdInput,
  PostListInput,
  PostOutput,
  PostPage,
  PostUpdateInput,
} from "./schemas.js";

export const postsRouter = router({
  list: publicProcedure
    .meta({
      openapi: { method: "GET", path: "/posts", tags: ["posts"], summary: "List posts" },
    })
    .input(PostListInput)
    .output(PostPage)
    .query(({ ctx, input }) => ctx.services.posts.list(ctx.principal, input)),

  byId: publicProcedure
    .meta({
      openapi: { method: "GET", path: "/posts/{id}", tags: ["posts"], summary: "One post" },
    })
    .input(PostIdInput)
    .output(PostOutput)
    .query(({ ctx, input }) => ctx.services.posts.byId(ctx.principal, input.id)),

  create: userProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/posts",
        tags: ["posts"],
        summary: "Write a post",
        errors: ["NOT_FOUND"],
      },
    })
    .input(PostCreateInput)
    .output(PostOutput)
    .mutation(({ ctx, input }) => ctx.services.posts.create(ctx.principal, input)),

  update: protectedProcedure
    .meta({
      openapi: {
        method: "PATCH",
        path: "/posts/{id}",
        tags: ["posts"],
        summary: "Change a post (author or admin)",
      },
    })
    .input(PostUpdateInput)
    .output(PostOutput)
    .mutation(({ ctx, input }) => ctx.services.posts.update(ctx.principal, input.id, input.data)),

  delete: protectedProcedure
    .meta({
      openapi: {
        method: "DELETE",
        path: "/posts/{id}",
        tags: ["posts"],
        summary: "Delete a post (author or admin)",
      },
    })
    .input(PostIdInput)
    .output(SuccessOutput)
    .mutation(async ({ ctx, input }) => {
      await ctx.services.posts.delete(ctx.principal, input.id);
      return { success: true as const };
    }),
});
