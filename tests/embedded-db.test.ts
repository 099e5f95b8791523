import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { Writable } from "node:stream";
import { createLogger, launchEmbeddedPostgres, startEmbeddedPostgres } from "@agora/server/testing";

/**
 * The embedded database (PGlite) runs in a worker thread of the server's process, reached over
 * its wire-protocol socket like any PostgreSQL.
 */
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  // A statement the database never answers fails the test at once, rather than at its timeout.
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    query_timeout: 10_000,
  });
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

  it("refuses a malformed start-up packet with PostgreSQL's FATAL: later connections still start", async () => {
    const lines: { level: number; msg: string; reason?: string }[] = [];
    const log = createLogger(
      "info",
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]);
          done();
        },
      }),
    );
    const db = await startEmbeddedPostgres(null, 0, { log });
    try {
      // Anything on this host can connect to the port. PostgreSQL ends the session of a start-up
      // packet it rejects by exit(); in PGlite that broke every later start-up for good (so the
      // server's pool could never reconnect), and pglite-socket 0.2.17 stopped serving all
      // connections after such a throw (patched: patches/). The thread answers these itself.
      const { hostname, port } = new URL(db.url);
      const startup = (body: string, length?: number) => {
        const packet = Buffer.concat([Buffer.alloc(8), Buffer.from(body, "latin1")]);
        packet.writeInt32BE(length ?? packet.length, 0);
        packet.writeInt32BE(0x30000, 4); // protocol 3.0
        return packet;
      };
      const layout = "invalid startup packet layout: expected terminator as last byte";
      // What is sent, and what comes back: FATAL with this SQLSTATE and message, the start of
      // a session (authentication ok), or nothing but the close.
      const cases: [string, Buffer, [string, string] | "session" | "nothing"][] = [
        ["no final zero byte", startup("user\0postgres\0"), ["08P01", layout]],
        ["a name without a value", startup("user\0postgres\0database\0\0"), ["08P01", layout]],
        ["4 KB of one letter", startup("A".repeat(4088)), ["08P01", layout]],
        [
          "replication=maybe",
          startup("user\0postgres\0replication\0maybe\0\0"),
          ["22023", 'invalid value for parameter "replication": "maybe"'],
        ],
        [
          "replication=database, a valid value",
          startup("user\0postgres\0replication\0database\0\0"),
          "session",
        ],
        // The socket server waits for the rest, and closes when the client does.
        ["a length beyond the packet", startup("user\0postgres\0\0", 40), "nothing"],
      ];
      for (const [what, packet, expected] of cases) {
        const answer = await new Promise<string>((resolve, reject) => {
          const chunks: Buffer[] = [];
          const socket = connect(Number(port), hostname, () => socket.write(packet));
          socket.on("data", (chunk) => chunks.push(chunk));
          socket.on("error", reject);
          // A refused connection is closed by the thread; any other is closed here after a while.
          setTimeout(() => socket.end(), 500);
          socket.on("close", () => {
            resolve(Buffer.concat(chunks).toString("latin1"));
          });
        });
        if (expected === "nothing") expect(answer, what).toBe("");
        else if (expected === "session") expect(answer.slice(0, 9), what).toBe("R\0\0\0\x08\0\0\0\0");
        else expect(answer, what).toMatch(new RegExp(`^E[^]{4}SFATAL\0VFATAL\0C${expected[0]}\0M`));
        if (Array.isArray(expected)) expect(answer, what).toContain(`\0M${expected[1]}\0`);
        expect(
          await query<{ one: number }>(db.url, "SELECT 1 AS one"),
          `a new connection after ${what}`,
        ).toEqual([{ one: 1 }]);
      }
      // Each refusal is logged once, as a warning with PostgreSQL's reason.
      expect(
        lines
          .filter((line) => line.msg.includes("refused a connection"))
          .map(({ level, reason }) => ({ level, reason })),
      ).toEqual(
        cases.flatMap(([, , expected]) =>
          Array.isArray(expected) ? [{ level: 40, reason: expected[1] }] : [],
        ),
      );
    } finally {
      await db.stop();
    }
  }, 60_000);
});
