import type { AnyProcedure } from "@trpc/server";
import express, { type RequestHandler, type Router } from "express";
import {
  createOpenApiExpressMiddleware,
  generateOpenApiDocument,
  type OpenAPIObject,
  type OpenApiMeta,
} from "trpc-to-openapi";
import { appRouter } from "../router.js";
import { REST_BASE_PATH } from "./lazy.js";
import type { Context } from "../trpc/context.js";
import type { ProcedureMeta } from "../trpc/init.js";

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
    if (meta?.openapi && meta.readsCredentials && !meta.openapi.protect)
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

/**
 * `/api/v1`: trpc-to-openapi maps each method + path to its procedure and calls it through a
 * server-side caller, so the procedure's middlewares (rate limit, authentication, error
 * mapping, metrics) all run as they do for `/trpc`. express.json parses bodies first: the
 * library's own parser only reads an exact `application/json`, not one with a charset.
 */
export function restRouter({ maxBodySize, createContext, onError }: RestOptions): Router {
  const rest = express.Router();
  rest.use(express.json({ limit: maxBodySize }));
  const handler: RequestHandler = createOpenApiExpressMiddleware({
    router: appRouter,
    maxBodySize,
    createContext: ({ req, res }: { req: express.Request; res: express.Response }) => createContext(req, res),
    onError: ({
      error,
      path,
      ctx,
    }: {
      error: import("@trpc/server").TRPCError;
      path?: string;
      ctx?: Context;
    }) => {
      onError({ error, path, ...(ctx ? { ctx } : {}) });
    },
  });
  rest.use(handler);
  return rest;
}
