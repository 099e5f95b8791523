import type { IncomingMessage } from "node:http";
import { TRPCError, type AnyProcedure } from "@trpc/server";
import { getErrorShape, getHTTPStatusCodeFromError } from "@trpc/server/unstable-core-do-not-import";
import express, { type ErrorRequestHandler, type RequestHandler, type Router } from "express";
import {
  createOpenApiNodeHttpHandler,
  generateOpenApiDocument,
  type OpenAPIObject,
  type OpenApiMeta,
} from "trpc-to-openapi";
import { appRouter } from "../router.js";
import { nestsTooDeep, TOO_DEEP_MESSAGE } from "./json-depth.js";
import { REST_BASE_PATH } from "./lazy.js";
import type { Context } from "../trpc/context.js";
import { toTRPCError, UNAVAILABLE_RETRY_AFTER_SECONDS } from "../trpc/errors.js";
import { enforceRateLimit, type ProcedureMeta } from "../trpc/init.js";

/** Our procedures' meta is what trpc-to-openapi reads: this type fails to compile otherwise. */
export type MetaIsOpenApiMeta = ProcedureMeta extends OpenApiMeta ? true : never;
export const metaIsOpenApiMeta: MetaIsOpenApiMeta = true;

/**
 * The OpenAPI 3.1 document of every procedure that carries `meta.openapi`, generated from the
 * same zod schemas the procedures validate with. The server URL is relative, so "try it out"
 * in the docs calls whichever host served them.
 */
export function openApiDocument(version: string): OpenAPIObject {
  const document = generateOpenApiDocument(appRouter, {
    title: "Agora REST API",
    description: [
      "REST view of Agora's tRPC procedures, for callers that are not written in TypeScript.",
      "Same services, validation and authorization as `/trpc`.",
      "Authenticate with `Authorization: Bearer <accessToken>` (from `POST /auth/login`) or `X-Api-Key: <key>`.",
      "Errors are JSON: `{ code, message, data: { httpStatus, requestId, fieldErrors }, issues? }`;",
      "400 carries the invalid fields in `data.fieldErrors`, 429 and 503 a `Retry-After` header,",
      "500 only the request id to quote to an operator.",
    ].join(" "),
    version,
    baseUrl: REST_BASE_PATH,
    tags: ["auth", "users", "markets", "products", "orders", "posts", "health"],
    securitySchemes: {
      bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
      apiKey: { type: "apiKey", in: "header", name: "X-Api-Key" },
    },
  });
  return describeErrors(document, operationsReadingCredentials());
}

/** "METHOD /path" of the public operations whose procedure reads credentials when sent. */
function operationsReadingCredentials(): Set<string> {
  const found = new Set<string>();
  // At run time tRPC keeps every procedure flat, under its dotted path; its type nests them.
  const procedures = appRouter._def.procedures as unknown as Record<string, AnyProcedure>;
  for (const procedure of Object.values(procedures)) {
    const meta = procedure._def.meta as ProcedureMeta | undefined;
    if (meta?.openapi && meta.access === "public" && !meta.openapi.protect)
      found.add(`${meta.openapi.method.toLowerCase()} ${meta.openapi.path}`);
  }
  return found;
}

type JsonObject = Record<string, unknown>;

/** The errors an operation can answer: HTTP status and what the docs say of each. */
const ERRORS: Record<string, { status: number; description: string }> = {
  BAD_REQUEST: { status: 400, description: "Invalid input" },
  UNAUTHORIZED: { status: 401, description: "Authentication required" },
  FORBIDDEN: { status: 403, description: "Not allowed" },
  NOT_FOUND: { status: 404, description: "Not found" },
  CONFLICT: { status: 409, description: "Conflicts with the current state (uniqueness, stock, status)" },
  TOO_MANY_REQUESTS: { status: 429, description: "Too many requests" },
  INTERNAL_SERVER_ERROR: { status: 500, description: "Internal server error" },
  SERVICE_UNAVAILABLE: { status: 503, description: "A dependency is unavailable; retry shortly" },
};

function errorSchema(code: string, status: number, message: string): JsonObject {
  return {
    type: "object",
    title: `${code} (${status})`,
    properties: {
      code: { type: "string", const: code },
      message: { type: "string" },
      data: {
        type: "object",
        properties: {
          code: { type: "string" },
          httpStatus: { type: "integer" },
          path: { type: ["string", "null"], description: "The procedure" },
          requestId: {
            type: ["string", "null"],
            description: "Quote it to an operator; also in X-Request-Id",
          },
          fieldErrors: {
            type: ["object", "null"],
            additionalProperties: { type: "array", items: { type: "string" } },
            description: 'Invalid input: `{ "field.path": ["message"] }`',
          },
          stock: {
            type: ["object", "null"],
            properties: {
              productId: { type: "string" },
              available: { type: "integer" },
              requested: { type: "integer" },
            },
            required: ["productId", "available", "requested"],
            description:
              "An order line refused for want of stock (CONFLICT): the product, units left and asked for",
          },
        },
        required: ["code", "httpStatus", "requestId"],
      },
      issues: {
        type: "array",
        description: "For invalid input: the validation issues (path, message)",
        items: { type: "object", properties: { message: { type: "string" } }, required: ["message"] },
      },
    },
    required: ["code", "message"],
    example: { code, message },
  };
}

const retryAfter = {
  "Retry-After": { description: "Seconds to wait before retrying", schema: { type: "integer" } },
};

const CREDENTIALS_REFUSED =
  "Credentials were sent and do not check out (expired, revoked, malformed); without any, the call is anonymous";

function errorResponse(code: string, headers?: JsonObject, description?: string): JsonObject {
  return {
    description: description ?? ERRORS[code]?.description ?? code,
    ...(headers ? { headers } : {}),
    content: { "application/json": { schema: { $ref: `#/components/schemas/error.${code}` } } },
  };
}

/**
 * The library describes errors as `{ message, code, issues }` and lists only some statuses.
 * Our bodies also carry `data` (request id, field errors), and every operation can meet the
 * rate limit (429) and an unreachable database (503), writes a conflict (409): say so.
 */
function describeErrors(document: OpenAPIObject, readingCredentials: ReadonlySet<string>): OpenAPIObject {
  const schemas: JsonObject = Object.fromEntries(
    Object.entries(document.components?.schemas ?? {}).filter(([key]) => !key.startsWith("error.")),
  );
  for (const [code, { status, description }] of Object.entries(ERRORS))
    schemas[`error.${code}`] = errorSchema(code, status, description);
  for (const [path, item] of Object.entries(document.paths ?? {}) as [string, JsonObject][]) {
    for (const [method, operation] of Object.entries(item) as [
      string,
      { responses?: JsonObject; security?: JsonObject[] },
    ][]) {
      const responses = (operation.responses ??= {});
      for (const [code, { status }] of Object.entries(ERRORS)) {
        if (String(status) in responses) responses[String(status)] = errorResponse(code);
      }
      if (readingCredentials.has(`${method} ${path}`)) {
        // Anyone may call; a caller who sends credentials is identified by them.
        operation.security = [{}, { bearerAuth: [] }, { apiKey: [] }];
        responses["401"] = errorResponse("UNAUTHORIZED", undefined, CREDENTIALS_REFUSED);
      }
      if (method !== "get") responses["409"] ??= errorResponse("CONFLICT");
      responses["429"] = errorResponse("TOO_MANY_REQUESTS", retryAfter);
      responses["503"] = errorResponse("SERVICE_UNAVAILABLE", retryAfter);
    }
  }
  return { ...document, components: { ...document.components, schemas } } as OpenAPIObject;
}

export interface RestOptions {
  maxBodySize: number;
  createContext: (req: express.Request, res: express.Response) => Context;
  onError: (opts: {
    error: import("@trpc/server").TRPCError;
    path: string | undefined;
    ctx?: Context;
  }) => void;
}

/** The methods trpc-to-openapi reads a body for (it reads none for GET and DELETE). */
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

/** Thrown while reading a body that nests too deeply, before it is parsed. */
class BodyTooDeepError extends Error {}

function mediaType(req: IncomingMessage): string | undefined {
  return req.headers["content-type"]?.split(";", 1)[0]?.trim().toLowerCase();
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
 * `/api/v1`: trpc-to-openapi maps each method + path to its procedure and calls it through a
 * server-side caller, so the procedure's middlewares (rate limit, authentication, error
 * mapping, metrics) all run as they do for `/trpc`. In front of it, in this order:
 * - the global per-IP rate limit, before anything reads the body (the procedure does not count
 *   the call again), so that no body, however hostile, escapes it;
 * - a JSON content type for the methods that carry a body (415);
 * - express.json, which also takes a charset (the library's own parser only reads an exact
 *   `application/json`), at most `maxBodySize` bytes (413), nested at most MAX_JSON_DEPTH
 *   levels (checked on the bytes before parsing), and a JSON object (400).
 * Every refusal is in the documented error shape (the router's error formatter, with the
 * request id), in fixed words; a path no operation has is a 404 in the same shape.
 */
export function restRouter({ maxBodySize, createContext, onError }: RestOptions): Router {
  const rest = express.Router();
  const config = appRouter._def._config;
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
  const refuse = (req: express.Request, res: express.Response, error: TRPCError) => {
    const ctx = contextOf(req, res);
    onError({ error, path: undefined, ctx });
    const shape = getErrorShape({ config, ctx, error, input: undefined, path: undefined, type: "unknown" });
    // As trpc-to-openapi answers errors: the formatted shape with the code's name.
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
    if (BODY_METHODS.has(req.method) && mediaType(req) !== "application/json") {
      refuse(
        req,
        res,
        new TRPCError({
          code: "UNSUPPORTED_MEDIA_TYPE",
          message: "The request body must be JSON (Content-Type: application/json)",
        }),
      );
      return;
    }
    next();
  });
  rest.use(
    express.json({
      limit: maxBodySize,
      strict: false,
      verify: (_req, _res, body) => {
        if (nestsTooDeep(body)) throw new BodyTooDeepError();
      },
    }),
  );
  const bodyErrors: ErrorRequestHandler = (err: unknown, req, res, next) => {
    const error = bodyRefusal(err, maxBodySize);
    if (error) refuse(req, res, error);
    else next(err);
  };
  rest.use(bodyErrors);
  rest.use((req, res, next) => {
    const body: unknown = req.body;
    if (
      BODY_METHODS.has(req.method) &&
      body !== undefined &&
      (typeof body !== "object" || body === null || Array.isArray(body))
    ) {
      refuse(
        req,
        res,
        new TRPCError({ code: "BAD_REQUEST", message: "The request body must be a JSON object" }),
      );
      return;
    }
    next();
  });
  // The node handler rather than the express one, which never calls next: a path no operation
  // has goes on to the 404 below, in the same shape as every other refusal.
  const operations = createOpenApiNodeHttpHandler<typeof appRouter, express.Request, express.Response>({
    router: appRouter,
    maxBodySize,
    createContext: ({ req, res }) => contextOf(req, res),
    onError: ({ error, path, ctx }) => {
      onError({ error, path, ...(ctx ? { ctx } : {}) });
    },
  });
  const handler: RequestHandler = (req, res, next) => {
    operations(req, res, next).catch(next);
  };
  rest.use(handler);
  rest.use((req, res) => {
    refuse(req, res, new TRPCError({ code: "NOT_FOUND", message: "No such route" }));
  });
  return rest;
}
