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

// The port first, held by the wire-protocol server from start to end. Until the database is
// open, the server runs on a stand-in for it: the part of PGlite's interface the server uses
// (waitReady, isInTransaction, runExclusive, execProtocolRawStream, exec), where every call
// waits for the database, so connections are accepted at once and their statements wait.
// (A placeholder listener that handed the port over once the database was open left a moment
// in which another process could take the port: a busy test run met EADDRINUSE there.) Port 0
// picks a free one, kept from then on.
const { PGLiteSocketServer } = await import("@electric-sql/pglite-socket");
/** @type {import("@electric-sql/pglite").PGlite | undefined} */
let db;
/** @type {(db: import("@electric-sql/pglite").PGlite) => void} */
let opened = () => undefined;
/** @type {(error: unknown) => void} */
let notOpened = () => undefined;
/** @type {Promise<import("@electric-sql/pglite").PGlite>} */
const database = new Promise((resolve, reject) => {
  opened = resolve;
  notOpened = reject;
});
database.catch(() => undefined);
/** @type {Map<string | symbol, Function>} */
const bound = new Map();
const standIn = new Proxy(
  {},
  {
    get(_target, name) {
      if (db) {
        const value = Reflect.get(db, name);
        if (typeof value !== "function") return value;
        let method = bound.get(name);
        if (!method) bound.set(name, (method = value.bind(db)));
        return method;
      }
      if (name === "waitReady") return Promise.resolve();
      if (name === "isInTransaction") return () => false;
      if (name === "then") return undefined;
      return async (/** @type {unknown[]} */ ...args) => {
        const open = await database;
        return Reflect.apply(Reflect.get(open, name), open, args);
      };
    },
  },
);
const server = new PGLiteSocketServer({
  db: /** @type {import("@electric-sql/pglite").PGlite} */ (standIn),
  host: options.host,
  port: options.port,
  maxConnections: options.maxConnections,
});

// Listening from the start also keeps this thread's event loop busy while PGlite opens. An
// idle loop makes Node wait for V8's background tasks (here: optimising the Wasm just run),
// which held the start for 250-350 ms.
port.on("message", (/** @type {{ type: string }} */ message) => {
  if (message.type !== "stop") return;
  void (async () => {
    try {
      await server.stop();
    } finally {
      notOpened(new Error("the embedded database was stopped"));
      await db?.close();
      port.close();
    }
  })();
});

try {
  await server.start();
} catch (error) {
  port.postMessage({ type: "failed", stage: "listen", message: messageOf(error) });
  process.exit(1);
}
port.postMessage({ type: "listening", address: server.getServerConn() });

// Loaded after the message above: it takes a moment, which the parent need not wait for.
const { PGlite } = await import("@electric-sql/pglite");

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

opened(db);
port.postMessage({ type: "ready" });
