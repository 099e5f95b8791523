import type { IncomingMessage } from "node:http";
import { TRPCError } from "@trpc/server";
import {
  getErrorShape,
  getHTTPStatusCodeFromError,
  getTRPCErrorFromUnknown,
} from "@trpc/server/unstable-core-do-not-import";
import express, { type ErrorRequestHandler, type RequestHandler, type Router } from "express";
import type { z } from "zod";
import { appRouter } from "../router.js";
import { ValidationError } from "../shared/errors.js";
import type { Context } from "../trpc/context.js";
import { toTRPCError, UNAVAILABLE_RETRY_AFTER_SECONDS } from "../trpc/errors.js";
import { enforceRateLimit } from "../trpc/init.js";
import { nestsTooDeep, notJsonBody, TOO_DEEP_MESSAGE } from "./json-depth.js";
import { fromParameter, restOperations, reviveDates, type RestOperation } from "./rest-operations.js";
import { invokeProcedure } from "./trpc-fast/invoke.js";

export interface RestOptions {
  maxBodySize: number;
  createContext: (req: express.Request, res: express.Response) => Context;
  onError: (opts: {
    error: import("@trpc/server").TRPCError;
    path: string | undefined;
    ctx?: Context;
  }) => void;
}

/** Thrown while reading a body that nests too deeply, before it is parsed. */
class BodyTooDeepError extends Error {}

function mediaType(req: IncomingMessage): string | undefined {
  return req.headers["content-type"]?.split(";", 1)[0]?.trim().toLowerCase();
}

/** Whether a request carries a body at all (one without needs no Content-Type). */
function hasBody(req: IncomingMessage): boolean {
  return req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
}

/** The operation a request is for, and its path parameters. */
interface Matched {
  op: RestOperation;
  params: Record<string, string>;
}

function decodeParam(value: string): string | null {
  try {
    return decodeURIComponent(value);
  } catch {
    return null;
  }
}

/** The procedure's input: query and path parameters read from strings, a JSON body as it is. */
function inputOf(req: express.Request, { op, params }: Matched, url: URL): unknown {
  const shape = (op.input?.shape ?? {}) as Record<string, z.ZodType>;
  const fromText = (key: string, values: string[]): unknown => {
    const field = shape[key];
    const read = (v: string) => (field ? fromParameter(field, v) : v);
    return values.length === 1 ? read(values[0] ?? "") : values.map(read);
  };
  const input: Record<string, unknown> = {};
  if (op.hasBody) {
    const body: unknown = req.body;
    if (body !== undefined && op.input) Object.assign(input, reviveDates(op.input, body));
  } else {
    for (const key of new Set(url.searchParams.keys()))
      input[key] = fromText(key, url.searchParams.getAll(key));
  }
  for (const [key, value] of Object.entries(params)) input[key] = fromText(key, [value]);
  return op.input ? input : undefined;
}

/**
 * What the client is told of a body express.json could not take: fixed words, never the
 * parser's (which quote the body and describe the engine). null: not the client's fault.
 */
function bodyRefusal(err: unknown, maxBodySize: number): TRPCError | null {
  if (err instanceof BodyTooDeepError)
    return new TRPCError({ code: "BAD_REQUEST", message: `The request body is ${TOO_DEEP_MESSAGE}` });
  const type = typeof err === "object" && err !== null && "type" in err ? err.type : undefined;
  const status = typeof err === "object" && err !== null && "status" in err ? err.status : undefined;
  switch (type) {
    case "entity.too.large":
      return new TRPCError({
        code: "PAYLOAD_TOO_LARGE",
        message: `The request body is larger than ${String(maxBodySize / 1024 / 1024)} MiB`,
      });
    case "entity.parse.failed":
      return new TRPCError({ code: "BAD_REQUEST", message: "The request body is not valid JSON" });
    case "charset.unsupported":
    case "encoding.unsupported":
      return new TRPCError({
        code: "UNSUPPORTED_MEDIA_TYPE",
        message: "The request body's charset or Content-Encoding is not supported",
      });
    default:
      return typeof status === "number" && status >= 400 && status < 500
        ? new TRPCError({ code: "BAD_REQUEST", message: "The request body could not be read" })
        : null;
  }
}

/**
 * `/api/v1`: each method + path (`meta.openapi` of a procedure) calls its procedure with the
 * same middlewares (rate limit, authentication, error mapping, metrics) as `/trpc`. trpc-to-
 * openapi writes the document; its request handler is not used, because it turns on zod's
 * coercion in the procedures' own schemas (shared with `/trpc`) on every call, so that after
 * one REST call `"false"` was read as `true` on both surfaces. In this order:
 * - the global per-IP rate limit, before anything reads the body (the procedure does not count
 *   the call again), so that no body, however hostile, escapes it;
 * - the operation, by method and path (404 when none);
 * - for an operation with a body, and a request that sends one: a JSON content type (415),
 *   express.json (which also takes a charset) of at most `maxBodySize` bytes (413), nested at
 *   most MAX_JSON_DEPTH levels (checked on the bytes before parsing), and a JSON object (400).
 *   An operation without a body (its input is all in its path) ignores any body sent;
 * - the input: the body as it is (dates from RFC 3339 strings), query and path parameters read
 *   from strings by the field's type (rest-operations.ts).
 * Every refusal is in the documented error shape (the router's error formatter, with the
 * request id), in fixed words.
 */
export function restRouter({ maxBodySize, createContext, onError }: RestOptions): Router {
  const rest = express.Router();
  const config = appRouter._def._config;
  const operations = restOperations();
  const matched = new WeakMap<IncomingMessage, Matched>();
  // One context per request, made before the body is read; the procedure gets the same one.
  const contexts = new WeakMap<IncomingMessage, Context>();
  const contextOf = (req: express.Request, res: express.Response): Context => {
    let ctx = contexts.get(req);
    if (!ctx) {
      ctx = createContext(req, res);
      contexts.set(req, ctx);
    }
    return ctx;
  };
  const refuse = (req: express.Request, res: express.Response, error: TRPCError, path?: string) => {
    const ctx = contextOf(req, res);
    onError({ error, path, ctx });
    const shape = getErrorShape({ config, ctx, error, input: undefined, path, type: "unknown" });
    // The formatted shape, with the code's name where tRPC puts its JSON-RPC number.
    res.status(getHTTPStatusCodeFromError(error)).json({ ...shape, code: error.code });
  };

  rest.use((req, res, next) => {
    const ctx = contextOf(req, res);
    enforceRateLimit(ctx, ctx.services.rateLimits.global, ctx.ip).then(
      () => {
        ctx.globalLimitCounted = true;
        next();
      },
      (cause: unknown) => {
        const error = toTRPCError(cause);
        if (!error) {
          next(cause);
          return;
        }
        if (error.code === "SERVICE_UNAVAILABLE")
          ctx.setHeader("Retry-After", String(UNAVAILABLE_RETRY_AFTER_SECONDS));
        refuse(req, res, error);
      },
    );
  });
  rest.use((req, res, next) => {
    for (const op of operations) {
      if (op.openapi.method !== req.method) continue;
      const found = op.pattern.exec(req.path);
      if (!found) continue;
      const params: Record<string, string> = {};
      for (const [key, raw] of Object.entries(found.groups ?? {})) {
        const value = decodeParam(raw);
        if (value === null) {
          refuse(
            req,
            res,
            new TRPCError({
              code: "BAD_REQUEST",
              cause: new ValidationError({ [key]: ["Malformed percent-encoding"] }),
            }),
          );
          return;
        }
        params[key] = value;
      }
      matched.set(req, { op, params });
      next();
      return;
    }
    refuse(req, res, new TRPCError({ code: "NOT_FOUND", message: "No such route" }));
  });
  const readsBody = (req: IncomingMessage): boolean => matched.get(req)?.op.hasBody === true && hasBody(req);
  rest.use((req, res, next) => {
    if (readsBody(req) && mediaType(req) !== "application/json") {
      refuse(req, res, notJsonBody());
      return;
    }
    next();
  });
  const json = express.json({
    // Only the body of an operation that reads one (its media type was checked above).
    type: (req) => readsBody(req),
    limit: maxBodySize,
    strict: false,
    verify: (_req, _res, body) => {
      if (nestsTooDeep(body)) throw new BodyTooDeepError();
    },
  });
  rest.use(json);
  const bodyErrors: ErrorRequestHandler = (err: unknown, req, res, next) => {
    const error = bodyRefusal(err, maxBodySize);
    if (error) refuse(req, res, error);
    else next(err);
  };
  rest.use(bodyErrors);
  const call: RequestHandler = (req, res, next) => {
    const found = matched.get(req);
    if (!found) {
      next();
      return;
    }
    const { op } = found;
    const body: unknown = req.body;
    if (readsBody(req) && (typeof body !== "object" || body === null || Array.isArray(body))) {
      refuse(
        req,
        res,
        new TRPCError({ code: "BAD_REQUEST", message: "The request body must be a JSON object" }),
        op.procedurePath,
      );
      return;
    }
    const ctx = contextOf(req, res);
    const input = inputOf(req, found, new URL(req.originalUrl, "http://localhost"));
    invokeProcedure(op.procedure, {
      ctx,
      type: op.type,
      path: op.procedurePath,
      getRawInput: () => Promise.resolve(input),
      signal: undefined,
      batchIndex: 0,
    }).then(
      (data: unknown) => {
        res.status(200).json(data);
      },
      (cause: unknown) => {
        refuse(req, res, getTRPCErrorFromUnknown(cause), op.procedurePath);
      },
    );
  };
  rest.use(call);
  // Whatever else failed (a rate limiter's store, a body stream): a 500 in the same shape.
  const unexpected: ErrorRequestHandler = (err: unknown, req, res, _next) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    refuse(req, res, getTRPCErrorFromUnknown(err), matched.get(req)?.op.procedurePath);
  };
  rest.use(unexpected);
  return rest;
}
