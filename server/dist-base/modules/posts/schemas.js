import { z } from "zod";
import { PageInput, pageOutput } from "../../shared/pagination.js";
import { Id, UserRef } from "../../shared/schemas.js";
export const PostOutput = z.object({
    id: z.string(),
    title: z.string(),
    content: z.string(),
    published: z.boolean(),
    marketId: z.string().nullable(),
    author: UserRef,
    createdAt: z.date(),
    updatedAt: z.date(),
});
const Title = z.string().trim().min(1).max(200);
const Content = z.string().min(1).max(20_000);
export const PostCreateInput = z.object({
    title: Title,
    content: Content,
    marketId: Id.optional(),
    published: z.boolean().default(true),
});
export const PostUpdateInput = z.object({
    id: Id,
    data: z.object({
        title: Title.optional(),
        content: Content.optional(),
        published: z.boolean().optional(),
    }),
});
export const PostListInput = PageInput.extend({ marketId: Id.optional(), authorId: Id.optional() });
export const PostPage = pageOutput(PostOutput);
export const PostIdInput = z.object({ id: Id });
//# sourceMappingURL=schemas.js.map