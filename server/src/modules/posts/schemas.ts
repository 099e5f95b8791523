import { z } from "zod";
import { PageInput, pageOutput } from "../../shared/pagination.js";
import { Id, PostOutput } from "../../shared/schemas.js";

// PostOutput lives in shared/ (see there); re-exported as the posts' output.
export { PostOutput } from "../../shared/schemas.js";

const Title = z.string().trim().min(1).max(200);
const Content = z.string().min(1).max(20_000);

export const PostCreateInput = z.object({
  title: Title.describe("1 to 200 characters"),
  content: Content.describe("The text, 1 to 20000 characters"),
  marketId: Id.optional().describe("The market the post is about, if any"),
  published: z.boolean().default(true).describe("false keeps it a draft, seen by its author and admins only"),
});
export type PostCreateInput = z.infer<typeof PostCreateInput>;

export const PostUpdateInput = z.object({
  id: Id.describe("The post's id"),
  data: z
    .object({
      title: Title.optional().describe("A new title, 1 to 200 characters"),
      content: Content.optional().describe("A new text, 1 to 20000 characters"),
      published: z.boolean().optional().describe("true publishes it, false makes it a draft again"),
    })
    .describe("The fields to change; the others are left as they are"),
});
export type PostUpdateData = z.infer<typeof PostUpdateInput>["data"];

export const PostListInput = PageInput.extend({
  marketId: Id.optional().describe("Only posts about this market"),
  authorId: Id.optional().describe("Only posts by this user"),
});
export type PostListInput = z.infer<typeof PostListInput>;

export const PostPage = pageOutput(PostOutput);

export const PostIdInput = z.object({ id: Id.describe("The post's id") });
