import type { Cache } from "../../infra/cache/cache.js";
import type { Db } from "../../infra/database/db.js";
import type { Sql } from "../../infra/database/sql.js";
import { cacheGroups } from "../../shared/cache-groups.js";
import { ConflictError, ForbiddenError, NotFoundError } from "../../shared/errors.js";
import type { Principal } from "../../shared/principal.js";
import { isForeignKeyViolation } from "../../shared/prisma-errors.js";
import { canSeeMarket, type MarketAccess } from "../markets/policy.js";
import { canManageProduct, canSeeProduct } from "./policy.js";
import { accessOf, type MarketService } from "../markets/service.js";
import { selectProduct, selectProductPage } from "./queries.js";
import type { ProductCreateInput, ProductListInput, ProductOutput, ProductUpdateData } from "./schemas.js";

const marketAccess = { select: { ownerId: true, status: true } } as const;

export interface ProductPageResult {
  items: ProductOutput[];
  nextCursor: string | null;
}

/**
 * Products are seen by whoever may see their market and managed by its owner or an admin.
 * Reads are cached; visibility is checked after the cache, against the (cached) market, so a
 * market turning DRAFT hides its products at once. Writes check access against the database.
 */
export class ProductService {
  constructor(
    private readonly db: Db,
    private readonly markets: MarketService,
    private readonly cache: Cache,
    private readonly sql: Sql,
  ) {}

  async list(viewer: Principal | null, input: ProductListInput): Promise<ProductPageResult> {
    await this.markets.byId(viewer, input.marketId);
    if (input.cursor !== undefined) return this.loadPage(input);
    return this.cache.getOrLoad(
      "products.list",
      `products:${input.marketId}:${input.limit}`,
      [cacheGroups.productsOf(input.marketId)],
      () => this.loadPage(input),
    );
  }

  private loadPage(input: ProductListInput): Promise<ProductPageResult> {
    return selectProductPage(this.sql, input);
  }

  async byId(viewer: Principal | null, id: string): Promise<ProductOutput> {
    const product = await this.cache.getOrLoad("product", `product:${id}`, [cacheGroups.product(id)], () =>
      selectProduct(this.sql, id),
    );
    const market = product && (await this.markets.find(product.marketId));
    if (!product || !market || !canSeeProduct(viewer, { market: accessOf(market) }))
      throw new NotFoundError("Product");
    return product;
  }

  async create(viewer: Principal, input: ProductCreateInput): Promise<ProductOutput> {
    const market = await this.visibleMarket(viewer, input.marketId);
    assertManager(viewer, market);
    const product = await this.db.product.create({
      data: {
        marketId: input.marketId,
        name: input.name,
        description: input.description ?? null,
        priceCents: input.priceCents,
        stock: input.stock,
      },
    });
    await this.cache.invalidate([cacheGroups.productsOf(input.marketId)]);
    return product;
  }

  async update(viewer: Principal, id: string, data: ProductUpdateData): Promise<ProductOutput> {
    await this.managedProduct(viewer, id);
    const product = await this.db.product.update({
      where: { id },
      data: {
        ...(data.name !== undefined ? { name: data.name } : {}),
        ...(data.description !== undefined ? { description: data.description } : {}),
        ...(data.priceCents !== undefined ? { priceCents: data.priceCents } : {}),
        ...(data.stock !== undefined ? { stock: data.stock } : {}),
      },
    });
    await this.cache.invalidate([cacheGroups.product(id), cacheGroups.productsOf(product.marketId)]);
    return product;
  }

  async delete(viewer: Principal, id: string): Promise<void> {
    const { marketId } = await this.managedProduct(viewer, id);
    try {
      await this.db.product.delete({ where: { id } });
    } catch (error) {
      // Order lines keep pointing at what was sold: a product that was ordered stays.
      if (isForeignKeyViolation(error)) {
        throw new ConflictError("This product has been ordered and cannot be deleted; set its stock to 0");
      }
      throw error;
    }
    await this.cache.invalidate([cacheGroups.product(id), cacheGroups.productsOf(marketId)]);
  }

  private async visibleMarket(viewer: Principal | null, marketId: string): Promise<MarketAccess> {
    const market = await this.db.market.findUnique({ where: { id: marketId }, ...marketAccess });
    if (!market || !canSeeMarket(viewer, market)) throw new NotFoundError("Market");
    return market;
  }

  private async managedProduct(viewer: Principal, id: string): Promise<{ marketId: string }> {
    const row = await this.db.product.findUnique({
      where: { id },
      select: { marketId: true, market: marketAccess },
    });
    if (!row || !canSeeProduct(viewer, row)) throw new NotFoundError("Product");
    assertManager(viewer, row.market);
    return { marketId: row.marketId };
  }
}

function assertManager(viewer: Principal, market: MarketAccess): void {
  if (!canManageProduct(viewer, { market })) {
    throw new ForbiddenError("Only the market's owner or an admin may do this");
  }
}
