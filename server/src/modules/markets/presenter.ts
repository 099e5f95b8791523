import type { Prisma } from "../../generated/prisma/client.js";
import { userRefSelect } from "../../shared/schemas.js";
import type { MarketOutput, MarketStatus } from "./schemas.js";

/** Loads the owner with the market in the same query (Prisma's writes). */
export const marketInclude = { owner: userRefSelect } satisfies Prisma.MarketInclude;
export type MarketRow = Prisma.MarketGetPayload<{ include: typeof marketInclude }>;

/** What `toMarket` reads: a row of markets/queries.ts's SQL, or `recordOf` a Prisma row. */
export interface MarketRecord {
  id: string;
  name: string;
  description: string | null;
  status: string;
  /** int8: a bigint from Prisma, text from SQL (exact in cursors). */
  volumeCents: bigint | string;
  ownerId: string;
  ownerUsername: string;
  createdAt: Date;
  updatedAt: Date;
}

const STATUSES: readonly MarketStatus[] = ["DRAFT", "ACTIVE", "CLOSED"];

/** The one mapper to `MarketOutput`, whichever way the market was read. */
export function toMarket(row: MarketRecord): MarketOutput {
  const status = STATUSES.find((s) => s === row.status);
  if (!status) throw new Error(`unknown market status ${row.status}`);
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    status,
    // Cents of every confirmed order: far below 2^53 for any plausible market.
    volumeCents: Number(row.volumeCents),
    owner: { id: row.ownerId, username: row.ownerUsername },
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** A market Prisma wrote (with `marketInclude`) as `toMarket` reads it. */
export function recordOf(row: MarketRow): MarketRecord {
  return { ...row, ownerUsername: row.owner.username };
}
