import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "@agora/server/testing";

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
