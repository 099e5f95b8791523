import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { isDatabaseUnavailable } from "../../shared/prisma-errors.js";

/**
 * Prisma's PostgreSQL adapter, with one repair: a transaction's pooled connection always goes
 * back to the pool, exactly once.
 *
 * When the connection of an interactive or batch transaction breaks (the database stops or
 * restarts) or a statement times out (DB_QUERY_TIMEOUT_MS), Prisma sends ROLLBACK on it;
 * that fails too, and Prisma then never calls the adapter's `rollback()`, the only place that
 * releases the client (@prisma/adapter-pg 6.19.3). The client stays checked out for ever: each
 * outage shrinks the pool by the transactions it interrupted, and closing the pool waits for
 * them without end (tests/faults.test.ts showed both). Here, the first failure that leaves
 * the connection unusable releases it with the error, so the pool discards it, and the
 * adapter's own release later is skipped.
 */
export class GuardedPrismaPg extends PrismaPg {
  override async connect(): ReturnType<PrismaPg["connect"]> {
    const adapter = await super.connect();
    const startTransaction = adapter.startTransaction.bind(adapter);
    return Object.assign(Object.create(adapter) as typeof adapter, {
      startTransaction: async (...args: Parameters<typeof adapter.startTransaction>) =>
        guardTransaction(await startTransaction(...args)),
    });
  }
}

type Transaction = Awaited<ReturnType<Awaited<ReturnType<PrismaPg["connect"]>>["startTransaction"]>>;

/** pg's own flags for a client whose connection is gone (pg-pool reads the same ones). */
function isBroken(client: pg.PoolClient, error: unknown): boolean {
  const state = client as unknown as { _queryable?: boolean; _ending?: boolean };
  if (state._queryable === false || state._ending === true) return true;
  // The server ending the connection may be reported before the socket closes; a statement
  // that timed out leaves its answer pending on the connection: nobody else may use either.
  return isDatabaseUnavailable(error);
}

function guardTransaction(tx: Transaction): Transaction {
  const client = (tx as unknown as { client?: unknown }).client;
  if (!(client instanceof pg.Client) || !("release" in client)) return tx;
  const pooled = client as pg.PoolClient;
  let released = false;
  const watch = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      if (!released && isBroken(pooled, error)) {
        released = true;
        pooled.release(error instanceof Error ? error : new Error("transaction connection broken"));
      }
      throw error;
    }
  };
  return Object.assign(Object.create(tx) as Transaction, {
    queryRaw: (query: Parameters<Transaction["queryRaw"]>[0]) => watch(() => tx.queryRaw(query)),
    executeRaw: (query: Parameters<Transaction["executeRaw"]>[0]) => watch(() => tx.executeRaw(query)),
    commit: async () => {
      if (released) return;
      released = true;
      await tx.commit();
    },
    rollback: async () => {
      if (released) return;
      released = true;
      await tx.rollback();
    },
  });
}
