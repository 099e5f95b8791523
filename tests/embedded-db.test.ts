import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { launchEmbeddedPostgres, startEmbeddedPostgres } from "@agora/server/testing";

/**
 * The embedded database (PGlite) runs in a worker thread of the server's process, reached over
 * its wire-protocol socket like any PostgreSQL.
 */
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

describe("the embedded database's thread", () => {
  it("holds its port from the start: the address is known before it opens, early statements wait for it", async () => {
    const launch = await launchEmbeddedPostgres(null, 0);
    const state = { opened: false };
    const ready = launch.ready.then((db) => {
      state.opened = true;
      return db;
    });
    // What the server sets its pool up with while the database opens (a second or more).
    const url = await launch.url;
    expect(state.opened).toBe(false);
    const { port } = new URL(url);
    // Nobody else can take the port at any moment while it opens: it never changes hands.
    const takenMeanwhile: string[] = [];
    const probing = (async () => {
      while (!state.opened) {
        const other = createServer();
        await new Promise<void>((resolve) => {
          other.once("error", () => {
            resolve();
          });
          other.listen(Number(port), "127.0.0.1", () => {
            takenMeanwhile.push(`port ${port} was free`);
            other.close(() => {
              resolve();
            });
          });
        });
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    // A connection made this early is accepted; its statement is answered once the database is open.
    const early = query<{ one: number }>(url, "SELECT 1 AS one").then((rows) => ({
      rows,
      opened: state.opened,
    }));
    const db = await ready;
    try {
      await probing;
      expect(takenMeanwhile).toEqual([]);
      expect(await early).toEqual({ rows: [{ one: 1 }], opened: true });
      expect(db.url).toBe(url);
      expect(await query<{ one: number }>(url, "SELECT 1 AS one")).toEqual([{ one: 1 }]);
    } finally {
      await db.stop();
    }
  });

  it("runs a long query beside the event loop, which keeps answering meanwhile", async () => {
    const db = await startEmbeddedPostgres(null, 0);
    try {
      // The longest pause of this thread's event loop while the query runs.
      let longestGap = 0;
      let last = performance.now();
      const ticker = setInterval(() => {
        const now = performance.now();
        longestGap = Math.max(longestGap, now - last);
        last = now;
      }, 5);
      const started = performance.now();
      const [row] = await query<{ n: string }>(
        db.url,
        "SELECT count(*) AS n FROM generate_series(1, 4000000) AS s WHERE s % 7 = 0",
      );
      const took = performance.now() - started;
      clearInterval(ticker);
      expect(row?.n).toBe("571428");
      // On the event loop, the loop would have stopped for the whole query.
      expect(took).toBeGreaterThan(400);
      expect(longestGap).toBeLessThan(took / 2);
    } finally {
      await db.stop();
    }
  }, 60_000);

  it("keeps what was written across a stop and a start on the same folder, and frees the folder", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "agora-embedded-"));
    dirs.push(dir);
    const first = await startEmbeddedPostgres(dir, 0);
    try {
      await query(first.url, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')");
    } finally {
      await first.stop();
    }
    // The folder's lock went with the first: a second start takes it.
    const second = await startEmbeddedPostgres(dir, 0);
    try {
      expect(await query<{ v: string }>(second.url, "SELECT v FROM kept")).toEqual([{ v: "still here" }]);
    } finally {
      await second.stop();
    }
  }, 60_000);
});
