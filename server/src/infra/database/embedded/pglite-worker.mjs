// Runs the embedded PostgreSQL (PGlite, Wasm) and its wire-protocol socket in a worker thread,
// so that opening it (about a second of Wasm on these machines) overlaps the server's module
// loading on the main thread, and every query it answers later runs beside the event loop
// instead of on it. Messages to the parent: { type: "listening", address } at once (its port
// is held from the start, so the parent can set up its connection pool meanwhile),
// { type: "ready" } once it accepts connections, or { type: "failed", stage: "copy" | "open" |
// "listen", message, code } if it cannot (the thread then ends); later, { type: "refused",
// message } for each connection refused at its start-up packet. A { type: "stop" } from the
// parent closes the database and ends the thread.
import { Blob } from "node:buffer";
import { copyFileSync, cpSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import { TextDecoder, TextEncoder } from "node:util";
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
      if (name === "execProtocolRawStream") return execProtocolRawStream;
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
/**
 * Every message reaches PGlite through here. PGlite takes any message that starts with a zero
 * byte for a start-up packet, and PostgreSQL ends the session of one it rejects with FATAL,
 * by exit(). In PGlite that exit unwinds its one backend half-way: the connections already
 * open go on, but every later start-up fails ("null function or function signature mismatch"),
 * so the server's pool could never connect again. Such a packet (from anything on this host
 * that connects to the port) is therefore answered here, with the FATAL PostgreSQL would send,
 * and never reaches PGlite. The throw makes the socket server close that connection (with our
 * patch of pglite-socket, patches/, a throw no longer stops its queue).
 * @param {Uint8Array} message
 * @param {{ onRawData: (data: Uint8Array) => void }} streamOptions
 */
async function execProtocolRawStream(message, streamOptions) {
  if (message[0] === 0) {
    const problem = startupPacketProblem(message);
    if (problem) {
      streamOptions.onRawData(fatalResponse(problem));
      port?.postMessage({ type: "refused", message: problem.message });
      throw new Error(`start-up packet refused: ${problem.message}`);
    }
  }
  const open = db ?? (await database);
  return open.execProtocolRawStream(message, streamOptions);
}

/** PostgreSQL's MAX_STARTUP_PACKET_LENGTH. */
const MAX_STARTUP_PACKET_LENGTH = 10_000;
/** Protocol 3.0, the only version pglite-socket passes on as a start-up packet. */
const PROTOCOL_3_0 = 0x30000;

/**
 * Why PostgreSQL's ProcessStartupPacket (src/backend/tcop/backend_startup.c) would end the
 * session for this packet, in its words; null for one it accepts. Only a well-formed 3.0 packet
 * is accepted: name/value pairs of zero-terminated strings, then a final zero byte, and a
 * `replication` value PostgreSQL can read.
 * @param {Uint8Array} packet
 * @returns {{ code: string, message: string, hint?: string } | null}
 */
function startupPacketProblem(packet) {
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const length = packet.byteLength >= 4 ? view.getInt32(0) : 0;
  if (length !== packet.byteLength || length < 8 || length > MAX_STARTUP_PACKET_LENGTH) {
    return { code: "08P01", message: "invalid length of startup packet" };
  }
  const version = view.getInt32(4);
  if (version !== PROTOCOL_3_0) {
    return {
      code: "0A000",
      message: `unsupported frontend protocol ${String(version >>> 16)}.${String(version & 0xffff)}: server supports 3.0 to 3.0`,
    };
  }
  const decoder = new TextDecoder();
  /** @param {number} from */
  const stringAt = (from) => {
    const end = packet.indexOf(0, from);
    return end === -1 ? null : { text: decoder.decode(packet.subarray(from, end)), next: end + 1 };
  };
  let offset = 8;
  while (offset < length && packet[offset] !== 0) {
    const name = stringAt(offset);
    const value = name && name.next < length ? stringAt(name.next) : null;
    if (!name || !value) break;
    if (name.text === "replication" && value.text !== "database" && !isPostgresBool(value.text)) {
      return {
        code: "22023",
        message: `invalid value for parameter "replication": "${value.text}"`,
        hint: 'Valid values are: "false", 0, "true", 1, "database".',
      };
    }
    offset = value.next;
  }
  if (offset !== length - 1 || packet[offset] !== 0) {
    return { code: "08P01", message: "invalid startup packet layout: expected terminator as last byte" };
  }
  return null;
}

/**
 * What PostgreSQL's parse_bool accepts: a prefix of true, false, yes or no; on, of(f); 1 or 0.
 * @param {string} text
 */
function isPostgresBool(text) {
  const value = text.toLowerCase();
  if (value === "1" || value === "0") return true;
  if (value.length >= 2 && ("on".startsWith(value) || "off".startsWith(value))) return true;
  return value.length > 0 && ["true", "false", "yes", "no"].some((word) => word.startsWith(value));
}

/**
 * A FATAL ErrorResponse message.
 * @param {{ code: string, message: string, hint?: string }} problem
 */
function fatalResponse(problem) {
  const encoder = new TextEncoder();
  /** @type {[string, string][]} */
  const fields = [
    ["S", "FATAL"],
    ["V", "FATAL"],
    ["C", problem.code],
    ["M", problem.message],
  ];
  if (problem.hint) fields.push(["H", problem.hint]);
  const body = fields.flatMap(([type, text]) => [...encoder.encode(type), ...encoder.encode(text), 0]);
  body.push(0);
  const response = new Uint8Array(5 + body.length);
  response[0] = "E".charCodeAt(0);
  new DataView(response.buffer).setInt32(1, 4 + body.length);
  response.set(body, 5);
  return response;
}

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
