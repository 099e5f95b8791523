import { access, mkdir } from "node:fs/promises";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { DataDirLockedError, lockDataDir } from "./data-dir-lock.js";
import type { Logger } from "../../logger.js";
import { PGLITE_EXTRA_START_PARAMS } from "./params.js";
import { errorCode, messageOf, StartupError } from "../../startup-error.js";

export interface EmbeddedPostgres {
  readonly url: string;
  /** host:port on the loopback interface, for a PostgreSQL client such as psql. */
  readonly address: string;
  /** How long it took to start, in milliseconds. */
  readonly startMs: number;
  stop(): Promise<void>;
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** Why DATA_DIR cannot be used, from the error of creating or writing in it. */
function dataDirProblem(dataDir: string, error: unknown): string {
  const code = errorCode(error);
  const uid = process.getuid?.();
  const user = uid === undefined ? "this user" : `this user (uid ${String(uid)})`;
  if (code === "EACCES" || code === "EPERM" || code === "EROFS")
    return `DATA_DIR ${dataDir} is not writable by ${user} (${code}): give it to that user, or set DATA_DIR to a folder it may write`;
  if (code === "EEXIST" || code === "ENOTDIR")
    return `DATA_DIR ${dataDir} is not a folder (${code}: a file is in the way): set DATA_DIR to a folder`;
  return `DATA_DIR ${dataDir} cannot be used: ${messageOf(error)}`;
}

/** How long stopping waits for the database's thread to close it before ending the thread. */
const STOP_TIMEOUT_MS = 15_000;

type WorkerMessage =
  | { type: "listening"; address: string }
  | { type: "ready" }
  | { type: "failed"; stage: "copy" | "open" | "listen"; message: string; code?: string }
  | { type: "refused"; message: string };

/** An embedded database whose thread is started. */
export interface EmbeddedLaunch {
  /**
   * Its connection URL, known as soon as its thread holds the port (well before it opens):
   * a pool can be set up with it meanwhile, but not used before `ready`.
   */
  readonly url: Promise<string>;
  /** Settles once it accepts connections (rejects, with the cause, if it cannot start). */
  readonly ready: Promise<EmbeddedPostgres>;
}

/**
 * Starts PostgreSQL compiled to Wasm (PGlite) behind a wire-protocol socket on loopback, so
 * the server and the Prisma migration CLI reach it exactly as they reach a real server.
 */
export async function startEmbeddedPostgres(
  dataDir: string | null,
  port: number,
  options: { useTemplate?: boolean; log?: Logger } = {},
): Promise<EmbeddedPostgres> {
  return (await launchEmbeddedPostgres(dataDir, port, options)).ready;
}

/**
 * Takes the data directory (its lock; a new one is filled from the template), then starts
 * PGlite in a worker thread (pglite-worker.mjs) and returns without waiting for it: opening
 * it takes a second or so of Wasm, which overlaps whatever this thread does meanwhile
 * (main.ts loads the server's modules), and its queries later run beside the event loop
 * rather than on it.
 */
export async function launchEmbeddedPostgres(
  dataDir: string | null,
  port: number,
  options: { useTemplate?: boolean; log?: Logger } = {},
): Promise<EmbeddedLaunch> {
  const { log } = options;
  const started = performance.now();
  let release: (() => Promise<void>) | null = null;
  if (dataDir) {
    try {
      await mkdir(dataDir, { recursive: true });
    } catch (error) {
      throw new StartupError(dataDirProblem(dataDir, error));
    }
    // Two processes on one PGlite data directory would corrupt it: hold a lock while open.
    try {
      const lock = await lockDataDir(dataDir);
      release = () => lock.release();
    } catch (error) {
      if (error instanceof DataDirLockedError) throw error;
      // Not a lock held by someone else (e.g. no permission to write in DATA_DIR).
      throw new StartupError(dataDirProblem(dataDir, error));
    }
  }
  try {
    // A new database starts from the migrated template when there is one (see template.ts).
    const fresh = dataDir === null || !(await exists(path.join(dataDir, "PG_VERSION")));
    const useTemplate = fresh && options.useTemplate !== false;
    // A new folder is copied from the template's folder form (by the database's thread, while
    // this one loads the server); memory loads its tarball.
    // Loaded only for a new database: the template's key needs the migrations (and pg).
    const templates = useTemplate ? await import("./template.js") : null;
    const copyFrom = templates && dataDir ? await templates.templateFolder() : null;
    const template = templates && !copyFrom ? await templates.readTemplate() : null;
    // The first start takes seconds before anything else is logged: say what is happening.
    const where = dataDir ?? "memory (DATA_DIR=:memory:)";
    if (!fresh) log?.info({ dataDir }, `opening the embedded database in ${where}`);
    else if (copyFrom || template)
      log?.info(
        { dataDir },
        `creating the embedded database in ${where} from the migrated template (a few seconds)`,
      );
    else
      log?.info(
        { dataDir },
        `creating the embedded database in ${where}: initialising PostgreSQL, then the migrations (10 s or more; ` +
          "`pnpm db:prepare-embedded` prepares a template that makes this faster)",
      );
    const worker = new Worker(new URL("./pglite-worker.mjs", import.meta.url), {
      workerData: {
        dataDir,
        copyFrom,
        startParams: [...PGLITE_EXTRA_START_PARAMS],
        template,
        host: "127.0.0.1",
        port,
        maxConnections: 64,
      },
      ...(template ? { transferList: [template] } : {}),
    });
    const exited = new Promise<void>((resolve) => {
      worker.once("exit", () => {
        resolve();
      });
    });
    let announce: (address: string) => void = () => undefined;
    const address = new Promise<string>((resolve) => {
      announce = resolve;
    });
    const ready = whenReady(worker, exited, announce, { dataDir, where, port, started, release, log });
    // A thread that fails before listening rejects both; `ready` carries the cause.
    const url = Promise.race([address.then(urlOf), ready.then((database) => database.url)]);
    // Awaited by whoever uses it; a failure is reported through `ready` anyway.
    url.catch(() => undefined);
    return { url, ready };
  } catch (error) {
    await release?.();
    throw error;
  }
}

const urlOf = (address: string) => `postgresql://postgres:postgres@${address}/postgres?sslmode=disable`;

/** Waits for the database's thread to accept connections; on failure, ends it and unlocks. */
async function whenReady(
  worker: Worker,
  exited: Promise<void>,
  announce: (address: string) => void,
  context: {
    dataDir: string | null;
    where: string;
    port: number;
    started: number;
    release: (() => Promise<void>) | null;
    log: Logger | undefined;
  },
): Promise<EmbeddedPostgres> {
  const { where, port, release, log } = context;
  // Whatever connected sent something that is not a PostgreSQL client's start-up (a port
  // scanner, an HTTP probe, a broken client): answered with FATAL and closed by the thread.
  // Reported for as long as the thread runs, while it starts included.
  worker.on("message", (message: WorkerMessage) => {
    if (message.type !== "refused") return;
    log?.warn(
      { reason: message.message },
      "the embedded database refused a connection: not a valid PostgreSQL start-up packet",
    );
  });
  let onMessage: ((message: WorkerMessage) => void) | undefined;
  let onError: ((error: Error) => void) | undefined;
  let address: string;
  try {
    let listeningAt: string | null = null;
    address = await new Promise<string>((resolve, reject) => {
      onMessage = (message) => {
        // Refused connections are logged by the listener above.
        if (message.type === "refused") return;
        if (message.type === "listening") {
          listeningAt = message.address;
          announce(message.address);
        } else if (message.type === "ready") {
          if (listeningAt) resolve(listeningAt);
          else reject(new StartupError(`the embedded database in ${where} reported no address`));
        } else if (message.stage === "copy")
          reject(
            new StartupError(
              dataDirProblem(
                context.dataDir ?? where,
                Object.assign(new Error(message.message), { code: message.code }),
              ),
            ),
          );
        else
          reject(
            new StartupError(
              message.stage === "open"
                ? `the embedded database in ${where} could not be opened (${message.message}): ` +
                    "if the folder is damaged or was written by another PGlite version, move it away (a new database is created in its place) or set DATA_DIR to another folder"
                : `the embedded database in ${where} could not listen on 127.0.0.1:${String(port)}: ${message.message}`,
            ),
          );
      };
      onError = (error) => {
        reject(new StartupError(`the embedded database in ${where} failed to start: ${error.message}`));
      };
      worker.on("message", onMessage);
      worker.once("error", onError);
      void exited.then(() => {
        reject(new StartupError(`the embedded database in ${where} stopped while starting`));
      });
    });
  } catch (error) {
    // The folder stays locked until the thread that had it open has ended.
    await worker.terminate();
    await exited;
    await release?.();
    throw error;
  } finally {
    if (onMessage) worker.off("message", onMessage);
    if (onError) worker.off("error", onError);
  }
  let stopped = false;
  worker.on("error", (error) => {
    log?.error({ err: error }, "the embedded database's thread failed");
  });
  void exited.then(() => {
    if (!stopped) log?.error("the embedded database stopped unexpectedly: queries will fail");
  });
  return {
    url: urlOf(address),
    address,
    startMs: Math.round(performance.now() - context.started),
    async stop() {
      if (stopped) return;
      stopped = true;
      worker.postMessage({ type: "stop" });
      // A checkpoint on close is quick; a thread that does not end is ended.
      const timer = setTimeout(() => void worker.terminate(), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
      await release?.();
    },
  };
}
