import type { Db } from "../../infra/database/db.js";
import { ForbiddenError, NotFoundError } from "../../shared/errors.js";
import { cursorDate, keysetPage, readCursor } from "../../shared/pagination.js";
import type { Principal } from "../../shared/principal.js";
import { canSeeMarket } from "../markets/policy.js";
import { canSeePost, canWritePost, visiblePostsWhere } from "./policy.js";
import type { MarketEvents } from "../markets/events.js";
import { postInclude, toPost } from "./presenter.js";
import type { PostCreateInput, PostListInput, PostOutput, PostUpdateData } from "./schemas.js";

const marketAccess = { select: { ownerId: true, status: true } } as const;

export class PostService {
  constructor(
    private readonly db: Db,
    private readonly events: MarketEvents,
  ) {}

  async list(
    viewer: Principal | null,
    input: PostListInput,
  ): Promise<{ items: PostOutput[]; nextCursor: string | null }> {
    const after = readCursor(input.cursor, "posts", 2);
    const rows = await this.db.post.findMany({
      where: {
        AND: [
          visiblePostsWhere(viewer),
          input.marketId ? { marketId: input.marketId } : {},
          input.authorId ? { authorId: input.authorId } : {},
          after
            ? {
                OR: [
                  { createdAt: { lt: cursorDate(after[0]) } },
                  { createdAt: cursorDate(after[0]), id: { lt: after[1] } },
                ],
              }
            : {},
        ],
      },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: input.limit + 1,
      include: postInclude,
    });
    const page = keysetPage(rows, input.limit, (last) => ["posts", last.createdAt.toISOString(), last.id]);
    return { items: page.items.map(toPost), nextCursor: page.nextCursor };
  }

  async byId(viewer: Principal | null, id: string): Promise<PostOutput> {
    const row = await this.db.post.findUnique({
      where: { id },
      include: { ...postInclude, market: marketAccess },
    });
    if (!row || !canSeePost(viewer, row)) throw new NotFoundError("Post");
    return toPost(row);
  }

  async create(viewer: Principal & { kind: "user" }, input: PostCreateInput): Promise<PostOutput> {
    if (input.marketId !== undefined) {
      const market = await this.db.market.findUnique({ where: { id: input.marketId }, ...marketAccess });
      if (!market || !canSeeMarket(viewer, market)) throw new NotFoundError("Market");
    }
    const post = await this.db.post.create({
      data: {
        title: input.title,
        content: input.content,
        published: input.published,
        marketId: input.marketId ?? null,
        authorId: viewer.id,
      },
      include: postInclude,
    });
    const output = toPost(post);
    if (post.published) await this.announce(post.marketId, output);
    return output;
  }

  async update(viewer: Principal, id: string, data: PostUpdateData): Promise<PostOutput> {
    const current = await this.writablePost(viewer, id);
    const post = await this.db.post.update({
      where: { id },
      data: {
        ...(data.title !== undefined ? { title: data.title } : {}),
        ...(data.content !== undefined ? { content: data.content } : {}),
        ...(data.published !== undefined ? { published: data.published } : {}),
      },
      include: postInclude,
    });
    // Publishing a draft is, for its market's followers, the moment the post appears.
    const output = toPost(post);
    if (!current.published && post.published) await this.announce(post.marketId, output);
    return output;
  }

  async delete(viewer: Principal, id: string): Promise<void> {
    await this.writablePost(viewer, id);
    await this.db.post.delete({ where: { id } });
  }

  /** The author or an admin may write; others who can see the post are refused. */
  private async writablePost(viewer: Principal, id: string): Promise<{ published: boolean }> {
    const row = await this.db.post.findUnique({
      where: { id },
      select: { published: true, authorId: true, market: marketAccess },
    });
    if (!row || !canSeePost(viewer, row)) throw new NotFoundError("Post");
    if (!canWritePost(viewer, row)) {
      throw new ForbiddenError("Only the author or an admin may do this");
    }
    return row;
  }

  private async announce(marketId: string | null, post: PostOutput): Promise<void> {
    if (marketId !== null) await this.events.publish(marketId, { type: "post.created", post });
  }
}
