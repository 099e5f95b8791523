import type { Product } from "../../generated/prisma/client.js";
import type { Db } from "../../infra/db.js";
import { ConflictError, ForbiddenError, NotFoundError } from "../../shared/errors.js";
import { cursorDate, keysetPage, readCursor } from "../../shared/pagination.js";
import type { Principal } from "../../shared/principal.js";
import { isForeignKeyViolation } from "../../shared/prisma-errors.js";
import { canManageMarket, canSeeMarket, type MarketAccess } from "../markets/access.js";
import type { ProductCreateInput, ProductListInput, ProductUpdateData } from "./schemas.js";

const marketAccess = { select: { ownerId: true, status: true } } as const;

/** Products are seen by whoever may see their market and managed by its owner or an admin. */
export class ProductService {
  constructor(private readonly db: Db) {}

  async list(
    viewer: Principal | null,
    input: ProductListInput,
  ): Promise<{ items: Product[]; nextCursor: string | null }> {
    await this.visibleMarket(viewer, input.marketId);
    const after = readCursor(input.cursor, "products", 2);
    const rows = await this.db.product.findMany({
      where: {
        marketId: input.marketId,
        ...(after
          ? {
              OR: [
                { createdAt: { lt: cursorDate(after[0]) } },
                { createdAt: cursorDate(after[0]), id: { lt: after[1] } },
              ],
            }
          : {}),
      },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: input.limit + 1,
    });
    return keysetPage(rows, input.limit, (last) => ["products", last.createdAt.toISOString(), last.id]);
  }

  async byId(viewer: Principal | null, id: string): Promise<Product> {
    const row = await this.db.product.findUnique({ where: { id }, include: { market: marketAccess } });
    if (!row || !canSeeMarket(viewer, row.market)) throw new NotFoundError("Product");
    const { market: _market, ...product } = row;
    return product;
  }

  async create(viewer: Principal, input: ProductCreateInput): Promise<Product> {
    const market = await this.visibleMarket(viewer, input.marketId);
    assertManager(viewer, market);
    return this.db.product.create({
      data: {
        marketId: input.marketId,
        name: input.name,
        description: input.description ?? null,
        priceCents: input.priceCents,
        stock: input.stock,
      },
    });
  }

  async update(viewer: Principal, id: string, data: ProductUpdateData): Promise<Product> {
    await this.managedProduct(viewer, id);
    return this.db.product.update({
      where: { id },
      data: {
        ...(data.name !== undefined ? { name: data.name } : {}),
        ...(data.description !== undefined ? { description: data.description } : {}),
        ...(data.priceCents !== undefined ? { priceCents: data.priceCents } : {}),
        ...(data.stock !== undefined ? { stock: data.stock } : {}),
      },
    });
  }

  async delete(viewer: Principal, id: string): Promise<void> {
    await this.managedProduct(viewer, id);
    try {
      await this.db.product.delete({ where: { id } });
    } catch (error) {
      // Order lines keep pointing at what was sold: a product that was ordered stays.
      if (isForeignKeyViolation(error)) {
        throw new ConflictError("This product has been ordered and cannot be deleted; set its stock to 0");
      }
      throw error;
    }
  }

  private async visibleMarket(viewer: Principal | null, marketId: string): Promise<MarketAccess> {
    const market = await this.db.market.findUnique({ where: { id: marketId }, ...marketAccess });
    if (!market || !canSeeMarket(viewer, market)) throw new NotFoundError("Market");
    return market;
  }

  private async managedProduct(viewer: Principal, id: string): Promise<void> {
    const row = await this.db.product.findUnique({
      where: { id },
      select: { market: marketAccess },
    });
    if (!row || !canSeeMarket(viewer, row.market)) throw new NotFoundError("Product");
    assertManager(viewer, row.market);
  }
}

function assertManager(viewer: Principal, market: MarketAccess): void {
  if (!canManageMarket(viewer, market)) {
    throw new ForbiddenError("Only the market's owner or an admin may do this");
  }
}
