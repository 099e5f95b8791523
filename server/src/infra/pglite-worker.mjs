// Runs the embedded PostgreSQL (PGlite, Wasm) and its wire-protocol socket in a worker thread,
// so that opening it (about a second of Wasm on these machines) overlaps the server's module
// loading on the main thread, and every query it answers later runs beside the event loop
// instead of on it. Messages to the parent: { type: "listening", address } at once (its port
// is held from the start, so the parent can set up its connection pool meanwhile),
// { type: "ready" } once it accepts connections, or { type: "failed", stage: "copy" | "open" |
// "listen", message, code } if it cannot (the thread then ends). A { type: "stop" } from the
// parent closes the database and ends the thread.
import { Blob } from "node:buffer";
import { copyFileSync, cpSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import process from "node:process";
import v8 from "node:v8";
import { parentPort, workerData } from "node:worker_threads";

/**
 * @type {{ dataDir: string | null, copyFrom: string | null, startParams: string[], template: ArrayBuffer | null,
 *   host: string, port: number, maxConnections: number }}
 */
const options = workerData;
const port = parentPort;
if (!port) throw new Error("pglite-worker.mjs runs as a worker thread");

/** V8's `--wasm-tiering-budget` (Node 20's V8 11.3; `node --v8-options` shows it). */
const V8_DEFAULT_TIERING_BUDGET = 1_800_000;

/** @param {unknown} error */
const messageOf = (error) => (error instanceof Error ? error.message : String(error));
/** @param {unknown} error */
const codeOf = (error) =>
  error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined;

// The port first: a placeholder holds it (and turns away anyone early) until the database is
// open, then hands it to the wire-protocol server. Port 0 picks a free one, kept from then on.
const placeholder = createServer((socket) => socket.destroy());
/** @type {import("@electric-sql/pglite").PGlite | undefined} */
let db;
/** @type {import("@electric-sql/pglite-socket").PGLiteSocketServer | undefined} */
let server;

// Listening from the start also keeps this thread's event loop busy while PGlite opens. An
// idle loop makes Node wait for V8's background tasks (here: optimising the Wasm just run),
// which held the start for 250-350 ms.
port.on("message", (/** @type {{ type: string }} */ message) => {
  if (message.type !== "stop") return;
  void (async () => {
    try {
      if (placeholder.listening) placeholder.close();
      await server?.stop();
    } finally {
      await db?.close();
      port.close();
    }
  })();
});

/** @type {number} */
let listenPort;
try {
  listenPort = await new Promise((resolve, reject) => {
    placeholder.once("error", reject);
    placeholder.listen(options.port, options.host, () => {
      const address = placeholder.address();
      resolve(typeof address === "object" && address ? address.port : options.port);
    });
  });
} catch (error) {
  port.postMessage({ type: "failed", stage: "listen", message: messageOf(error) });
  process.exit(1);
}
port.postMessage({ type: "listening", address: `${options.host}:${String(listenPort)}` });

// Loaded after the message above: they take a moment, which the parent need not wait for.
const { PGlite } = await import("@electric-sql/pglite");
const { PGLiteSocketServer } = await import("@electric-sql/pglite-socket");

// A new data directory is filled from the template's folder first. PG_VERSION, which marks a
// directory as initialised, is copied last: a copy cut short is copied again on the next
// start rather than opened half-made. Synchronously: fs.cp's promise per file made it 1.4 s
// against 0.5 s for these 1,100 files (40 MB, a 16 MB WAL segment among them).
if (options.copyFrom && options.dataDir) {
  const marker = path.join(options.copyFrom, "PG_VERSION");
  try {
    cpSync(options.copyFrom, options.dataDir, {
      recursive: true,
      force: true,
      filter: (from) => from !== marker,
    });
    copyFileSync(marker, path.join(options.dataDir, "PG_VERSION"));
  } catch (error) {
    port.postMessage({ type: "failed", stage: "copy", message: messageOf(error), code: codeOf(error) });
    process.exit(1);
  }
}

// Opening PGlite runs a great deal of its 9 MB of Wasm once or a few times. V8 optimises
// (TurboFan, on background threads) every Wasm function that runs past a small budget: 0.6 s
// of the 2.0 s of CPU that opening took, on two cores that the server's own start needs too,
// and more for the statements of the start that follow. With 100 times V8's default budget,
// only code that stays hot is optimised. V8 flags are per process (a worker cannot have its
// own); this one is read whenever a Wasm instance is created or a function's budget runs out,
// so setting it at run time works. It is set only here, so only a process that runs the
// embedded database is concerned; Prisma's query compiler there is optimised later too.
// Measured on the server's markets.byId over the embedded database (uncached, 4 s rounds
// right after start): 690/1,130/1,200/1,340 req/s either way. A process started with its own
// budget is left alone.
const budgetFlag = "--wasm-tiering-budget";
const ownBudget = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)].some((arg) =>
  arg.startsWith(budgetFlag),
);
if (!ownBudget) v8.setFlagsFromString(`${budgetFlag}=${String(V8_DEFAULT_TIERING_BUDGET * 100)}`);
try {
  db = await PGlite.create({
    startParams: [...PGlite.defaultStartParams, ...options.startParams],
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.template ? { loadDataDir: new Blob([options.template]) } : {}),
  });
} catch (error) {
  port.postMessage({ type: "failed", stage: "open", message: messageOf(error) });
  process.exit(1);
}

server = new PGLiteSocketServer({
  db,
  host: options.host,
  port: listenPort,
  maxConnections: options.maxConnections,
});
try {
  await new Promise((resolve) => placeholder.close(resolve));
  await server.start();
} catch (error) {
  await db.close().catch(() => undefined);
  port.postMessage({ type: "failed", stage: "listen", message: messageOf(error) });
  process.exit(1);
}

port.postMessage({ type: "ready" });
