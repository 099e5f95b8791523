import type { IncomingMessage, ServerResponse } from "node:http";
import {
  getErrorShape,
  getHTTPStatusCode,
  getHTTPStatusCodeFromError,
  getProcedureAtPath,
  getTRPCErrorFromUnknown,
  isAsyncIterable,
  isObject,
  isPromise,
  transformTRPCResponse,
  TRPCError,
  urlPathToProcedurePath,
  type AnyProcedure,
  type ProcedureType,
} from "@trpc/server/unstable-core-do-not-import";
import type { AppRouter } from "../../router.js";
import type { Middleware } from "../front.js";
import type { Context } from "../../trpc/context.js";
import {
  JsonDepthScanner,
  MAX_JSON_DEPTH,
  nestsTooDeep,
  notJsonBody,
  TOO_DEEP_MESSAGE,
} from "../json-depth.js";
import { isShared } from "../../shared/shared-values.js";
import { ClientDisconnect, FastCallOptions, invokeProcedure } from "./invoke.js";

/**
 * tRPC's HTTP protocol for plain queries and mutations, without its Fetch round trip.
 *
 * tRPC's node adapter turns every call into a Fetch `Request` (URL, `Headers`, a body
 * stream, an `AbortController`, `AbortSignal.any`) and its answer into a Fetch `Response`
 * before writing it: on a trivial call that is most of the CPU time (see the benchmark in
 * `bench/`). This handler answers the calls our clients make (single and batched GET queries
 * and POST mutations with JSON bodies) by calling the procedures directly, and builds the
 * answer with tRPC's own pieces: the router's error formatter (`getErrorShape`), its
 * transformer (`transformTRPCResponse`) and status rule (`getHTTPStatusCode`), so the wire
 * format is tRPC's. Everything else (subscriptions over SSE, `application/jsonl` streaming,
 * other content types, `connectionParams`, oversized batches or bodies, HEAD) is passed on
 * (`next()`) to the official adapter, which express serves. The server's listener (app.ts)
 * calls it for `/trpc/` requests before express sees them: express's per-request set-up (it
 * swaps the prototypes of the request and response) and router cost more than the whole call
 * did (bench/README.md). tests/trpc-handler.test.ts sends the same requests to both and requires
 * identical answers, so a tRPC upgrade that changes the protocol fails the suite instead of
 * clients.
 */

type Call = {
  readonly path: string;
  readonly procedure: AnyProcedure | null;
  readonly batchIndex: number;
};

export interface FastTrpcHandlerOptions {
  router: AppRouter;
  createContext: (req: IncomingMessage, res: ServerResponse) => Context | Promise<Context>;
  onError: (opts: {
    error: TRPCError;
    path: string | undefined;
    type: ProcedureType | "unknown";
    ctx: Context | undefined;
    input: unknown;
  }) => void;
  maxBodySize: number;
  maxBatchSize: number;
  /** Where tRPC is served, e.g. "/trpc": the handler takes requests under `${basePath}/`. */
  basePath: string;
}

const VARY = "trpc-accept, accept";

/**
 * The JSON of a successful call's answer item (`{"result":{"data":...}}`), by the shared value
 * it answers with (a cache entry, after its output validation: shared/shared-values.ts): the
 * same value always serializes to the same bytes, so a cache hit writes them again instead of
 * running the transformer and JSON.stringify. Weak: it goes with the cache entry.
 */
const answers = new WeakMap<object, string>();

function contentType(req: IncomingMessage): string | undefined {
  return req.headers["content-type"]?.split(";", 1)[0]?.trim().toLowerCase();
}

/** The BAD_REQUEST of input that nests arrays and objects deeper than MAX_JSON_DEPTH. */
function tooDeep(): TRPCError {
  return new TRPCError({ code: "BAD_REQUEST", message: `Input ${TOO_DEEP_MESSAGE}` });
}

/**
 * Reads a JSON body of at most `limit` bytes; more (or a Content-Length that says so) is tRPC's
 * PAYLOAD_TOO_LARGE, at once. Its nesting is counted as it arrives: past MAX_JSON_DEPTH the
 * body is refused at once (BAD_REQUEST), before the rest of it comes and before anything
 * parses it.
 */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<string> {
  const tooLarge = () =>
    new TRPCError({
      code: "PAYLOAD_TOO_LARGE",
      message: `The request body is larger than ${String(limit / 1024 / 1024)} MiB`,
    });
  return new Promise((resolve, reject) => {
    if (Number(req.headers["content-length"] ?? 0) > limit) {
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    const depth = new JsonDepthScanner(MAX_JSON_DEPTH);
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        reject(tooLarge());
        return;
      }
      if (!depth.push(chunk)) {
        cleanup();
        reject(tooDeep());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks).toString("utf8"));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  });
}

/** JSON.parse of query or body text, once its nesting has been found within the bound. */
function parseJsonInput(text: string): unknown {
  if (nestsTooDeep(text)) throw tooDeep();
  return JSON.parse(text);
}

/** What tRPC refuses to send as a plain JSON answer (promises or iterables inside the data). */
function isDataStream(value: unknown): boolean {
  if (!isObject(value)) return false;
  if (isAsyncIterable(value)) return true;
  const values = Object.values(value);
  return values.some(isPromise) || values.some(isAsyncIterable);
}

const ACCEPTED_METHOD: Record<ProcedureType, string> = {
  query: "GET",
  mutation: "POST",
  subscription: "GET",
};

export function fastTrpcHandler(options: FastTrpcHandlerOptions): Middleware {
  const { router, maxBodySize, maxBatchSize } = options;
  const config = router._def._config;
  const prefix = `${options.basePath}/`;
  // Procedures found so far, by path (only ones that exist, so the map is bounded by the router).
  const found = new Map<string, AnyProcedure>();

  /** The calls of a request this handler serves, or null for the official adapter's. */
  function parse(
    req: IncomingMessage,
  ): { search: URLSearchParams; paths: string[]; isBatchCall: boolean } | null {
    const url = req.url ?? "";
    if (!url.startsWith(prefix)) return null;
    const method = req.method;
    if (method !== "GET" && method !== "POST") return null;
    if (req.headers["trpc-accept"] !== undefined) return null;
    if (req.headers.accept?.includes("text/event-stream")) return null;
    if (method === "POST") {
      if (contentType(req) !== "application/json") return null;
      if (Number(req.headers["content-length"] ?? 0) > maxBodySize) return null;
    }
    // req.url is "<basePath>/<path>?<query>".
    const q = url.indexOf("?");
    const search = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
    if (search.has("connectionParams")) return null;
    let decoded: string;
    try {
      decoded = decodeURIComponent(url.slice(prefix.length, q < 0 ? undefined : q));
    } catch {
      return null;
    }
    const path = urlPathToProcedurePath(decoded, config.pathSeparator);
    const isBatchCall = search.get("batch") === "1";
    const paths = isBatchCall ? path.split(",") : [path];
    if (paths.length > maxBatchSize) return null;
    return { search, paths, isBatchCall };
  }

  return (req, res, next) => {
    const calls = parse(req);
    if (!calls) {
      next();
      return;
    }
    void handle(req, res, next, calls.search, calls.paths, calls.isBatchCall).catch(next);
  };

  /** The procedure at a path; at once when it has been looked up before. */
  function lookUp(path: string): AnyProcedure | null | Promise<AnyProcedure | null> {
    return (
      found.get(path) ??
      getProcedureAtPath(router, path).then((procedure) => {
        if (procedure) found.set(path, procedure);
        return procedure;
      })
    );
  }

  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    next: (err?: unknown) => void,
    search: URLSearchParams,
    paths: string[],
    isBatchCall: boolean,
  ): Promise<void> {
    const calls: Call[] = [];
    for (const [batchIndex, path] of paths.entries()) {
      const procedure = lookUp(path);
      calls.push({ path, batchIndex, procedure: isPromise(procedure) ? await procedure : procedure });
    }
    const types = new Set<ProcedureType>();
    for (const call of calls) if (call.procedure) types.add(call.procedure._def.type);
    if (types.size > 1 || types.has("subscription")) {
      next();
      return;
    }
    const type: ProcedureType | "unknown" = types.values().next().value ?? "unknown";

    // The inputs, read and parsed once, lazily (a procedure without input never reads the body).
    let inputs: Record<number, unknown> | undefined;
    let reading: Promise<Record<number, unknown>> | undefined;
    const readInputs = async (): Promise<Record<number, unknown>> => {
      let raw: unknown;
      if (req.method === "GET") {
        const query = search.get("input");
        if (query) raw = parseJsonInput(query);
      } else {
        const body = await readJsonBody(req, maxBodySize);
        if (body) raw = JSON.parse(body);
      }
      const result: Record<number, unknown> = {};
      if (raw === undefined) return result;
      if (!isBatchCall) {
        result[0] = config.transformer.input.deserialize(raw);
        return result;
      }
      if (!isObject(raw)) {
        throw new TRPCError({
          code: "BAD_REQUEST",
          message: '"input" needs to be an object when doing a batch call',
        });
      }
      for (const index of paths.keys()) {
        const value = raw[index];
        if (value !== undefined) result[index] = config.transformer.input.deserialize(value);
      }
      return result;
    };
    const getInputs = async (): Promise<Record<number, unknown>> => {
      if (inputs) return inputs;
      reading ??= readInputs().catch((cause: unknown) => {
        if (cause instanceof TRPCError) throw cause;
        throw new TRPCError({
          code: "BAD_REQUEST",
          message: cause instanceof Error ? cause.message : "Invalid input",
          cause,
        });
      });
      inputs = await reading;
      return inputs;
    };

    // Aborted if the client goes away before the answer is written, as tRPC's adapter does
    // (its `incomingMessageToRequest`): a procedure may stop work nobody will read. Made only
    // if a procedure reads it.
    const disconnect = new ClientDisconnect(res);

    let ctx: Context | undefined;
    let ctxError: TRPCError | undefined;
    try {
      ctx = await options.createContext(req, res);
    } catch (cause) {
      ctxError = getTRPCErrorFromUnknown(cause);
    }

    const outcomes = await Promise.all(
      calls.map(async (call): Promise<{ error: TRPCError } | { data: unknown }> => {
        const proc = call.procedure;
        try {
          if (!proc)
            throw new TRPCError({ code: "NOT_FOUND", message: `No procedure found on path "${call.path}"` });
          const procType = proc._def.type;
          if (ACCEPTED_METHOD[procType] !== req.method) {
            res.setHeader("allow", ACCEPTED_METHOD[procType]);
            throw new TRPCError({
              code: "METHOD_NOT_SUPPORTED",
              message: `Unsupported ${req.method}-request to ${procType} procedure at path "${call.path}"`,
            });
          }
          if (ctxError) throw ctxError;
          const data = await invokeProcedure(
            proc,
            new FastCallOptions(
              ctx,
              procType,
              call.path,
              async () => (await getInputs())[call.batchIndex],
              disconnect,
              call.batchIndex,
            ),
          );
          if (isDataStream(data)) {
            throw new TRPCError({
              code: "UNSUPPORTED_MEDIA_TYPE",
              message: "Cannot use stream-like response in non-streaming request - use httpBatchStreamLink",
            });
          }
          return { data };
        } catch (cause) {
          const error = getTRPCErrorFromUnknown(cause);
          options.onError({
            error,
            path: call.path,
            type: proc?._def.type ?? "unknown",
            ctx,
            input: inputs?.[call.batchIndex],
          });
          return { error };
        }
      }),
    );

    // Index-aligned, as tRPC passes them (a sparse array: successes have no entry).
    const errors: TRPCError[] = [];
    const untransformed = outcomes.map((outcome, index) => {
      const call = calls[index];
      if ("error" in outcome) {
        errors[index] = outcome.error;
        return {
          error: getErrorShape({
            config,
            ctx,
            error: outcome.error,
            input: inputs?.[index],
            path: call?.path,
            type: call?.procedure?._def.type ?? (isBatchCall ? "unknown" : type),
          }),
        };
      }
      return { result: { data: outcome.data } };
    });
    const status = getHTTPStatusCode(untransformed, errors);
    // JSON.stringify(transformTRPCResponse(config, item or items)), item by item, so that the
    // answer to a shared value is serialized once (`answers`): the same bytes either way.
    const itemJson = (item: (typeof untransformed)[number]): string => {
      const data = "result" in item ? item.result?.data : undefined;
      if (!isShared(data)) return JSON.stringify(transformTRPCResponse(config, item));
      let json = answers.get(data);
      if (json === undefined) {
        json = JSON.stringify(transformTRPCResponse(config, item));
        answers.set(data, json);
      }
      return json;
    };
    const body = isBatchCall
      ? `[${untransformed.map(itemJson).join(",")}]`
      : itemJson(untransformed[0] ?? { result: { data: null } });
    res.statusCode = status;
    res.setHeader("vary", VARY);
    res.setHeader("content-type", "application/json");
    res.end(body);
  }
}

/** Answers a request with a tRPC error in tRPC's wire format (the router's formatter and transformer). */
export function sendTrpcError(
  router: AppRouter,
  res: ServerResponse,
  error: TRPCError,
  ctx: Context | undefined,
  path?: string,
): void {
  const config = router._def._config;
  const shape = getErrorShape({ config, ctx, error, input: undefined, path, type: "unknown" });
  res.statusCode = getHTTPStatusCodeFromError(error);
  res.setHeader("vary", VARY);
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify(transformTRPCResponse(config, { error: shape })));
}

/**
 * The procedure a request that is not a batch names (the guard sees URLs relative to the base
 * path): tRPC reports an input it cannot read under the call's path, and so does the fast
 * handler; undefined for a batch, whose calls tRPC would answer one by one.
 */
function singleCallPath(url: string): string | undefined {
  const q = url.indexOf("?");
  const pathname = q >= 0 ? url.slice(0, q) : url;
  if (q >= 0 && new URLSearchParams(url.slice(q + 1)).has("batch")) return undefined;
  let path: string;
  try {
    path = decodeURIComponent(pathname.replace(/^\/+/, ""));
  } catch {
    return undefined;
  }
  return path.length > 0 && !path.includes(",") ? path : undefined;
}

/**
 * In front of tRPC's own adapter (what the fast handler passes on: streamed answers,
 * subscriptions, other content types), the same bound on nesting: the JSON it would parse (the
 * `input` and `connectionParams` query parameters, a JSON body) is checked first, the body as
 * it arrives, and handed to the adapter already read (it takes a string `req.body` as is).
 */
export function trpcJsonGuard(options: {
  router: AppRouter;
  maxBodySize: number;
  createContext: (req: IncomingMessage, res: ServerResponse) => Context;
}): Middleware {
  const refuse = (req: IncomingMessage, res: ServerResponse, cause: unknown) => {
    const error = getTRPCErrorFromUnknown(cause);
    let ctx: Context | undefined;
    try {
      ctx = options.createContext(req, res);
    } catch {
      ctx = undefined;
    }
    sendTrpcError(options.router, res, error, ctx, singleCallPath(req.url ?? ""));
  };
  return (req, res, next) => {
    const url = req.url ?? "";
    const q = url.indexOf("?");
    if (q >= 0) {
      const search = new URLSearchParams(url.slice(q + 1));
      for (const name of ["input", "connectionParams"]) {
        const value = search.get(name);
        if (value !== null && nestsTooDeep(value)) {
          refuse(req, res, tooDeep());
          return;
        }
      }
    }
    if (req.method !== "POST") {
      next();
      return;
    }
    if (contentType(req) !== "application/json") {
      // tRPC's adapter refuses these before it makes a context: without our request id, and
      // quoting the header back. No procedure here takes form data or bytes.
      refuse(req, res, notJsonBody());
      return;
    }
    readJsonBody(req, options.maxBodySize).then(
      (body) => {
        Object.assign(req, { body });
        next();
      },
      (cause: unknown) => {
        refuse(req, res, cause);
      },
    );
  };
}
