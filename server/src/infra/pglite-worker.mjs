// Runs the embedded PostgreSQL (PGlite, Wasm) and its wire-protocol socket in a worker thread,
// so that opening it (about a second of Wasm on these machines) overlaps the server's module
// loading on the main thread, and every query it answers later runs beside the event loop
// instead of on it. Messages to the parent: { type: "ready", address } once it accepts
// connections, { type: "failed", stage: "open" | "listen", message } if it cannot (the thread
// then ends), and { type: "stopped" } after a { type: "stop" } from the parent.
import { Blob } from "node:buffer";
import process from "node:process";
import { parentPort, workerData } from "node:worker_threads";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

/**
 * @type {{ dataDir: string | null, startParams: string[], template: ArrayBuffer | null,
 *   host: string, port: number, maxConnections: number }}
 */
const options = workerData;
const port = parentPort;
if (!port) throw new Error("pglite-worker.mjs runs as a worker thread");

/** @param {unknown} error */
const messageOf = (error) => (error instanceof Error ? error.message : String(error));

/** @type {PGlite | undefined} */
let db;
/** @type {PGLiteSocketServer | undefined} */
let server;

// Listening from the start also keeps this thread's event loop busy while PGlite opens. An
// idle loop makes Node wait for V8's background tasks (here: optimising the Wasm just run),
// which held the start for 250-350 ms.
port.on("message", (/** @type {{ type: string }} */ message) => {
  if (message.type !== "stop") return;
  void (async () => {
    try {
      await server?.stop();
    } finally {
      await db?.close();
      port.postMessage({ type: "stopped" });
      port.close();
    }
  })();
});

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
  port: options.port,
  maxConnections: options.maxConnections,
});
try {
  await server.start();
} catch (error) {
  await db.close().catch(() => undefined);
  port.postMessage({ type: "failed", stage: "listen", message: messageOf(error) });
  process.exit(1);
}

port.postMessage({ type: "ready", address: server.getServerConn() });
