import { generateOpenApiDocument, type OpenAPIObject, type OpenApiMeta } from "trpc-to-openapi";
import { z } from "zod";
import { appRouter } from "../router.js";
import type { ProcedureAccess, ProcedureMeta } from "../trpc/init.js";
import { REST_BASE_PATH } from "./lazy.js";
import {
  allProcedures,
  fieldsOf,
  innerOf,
  inputOf,
  metaOf,
  restOperations,
  type RestOperation,
} from "./rest-operations.js";

/** Our procedures' meta is what trpc-to-openapi reads: this type fails to compile otherwise. */
export type MetaIsOpenApiMeta = ProcedureMeta extends OpenApiMeta ? true : never;
export const metaIsOpenApiMeta: MetaIsOpenApiMeta = true;

type JsonObject = Record<string, unknown>;

const TAGS: { name: string; description: string }[] = [
  { name: "auth", description: "Accounts, sign-in, tokens and passwords" },
  { name: "users", description: "Profiles; listing, changing and deleting users (admins)" },
  { name: "api-keys", description: "Service credentials (admins): sent as `X-Api-Key`" },
  { name: "markets", description: "Markets: DRAFT, then ACTIVE, then CLOSED" },
  { name: "products", description: "A market's products, with price and stock" },
  { name: "orders", description: "Orders: all or nothing, idempotent, cancellable" },
  { name: "posts", description: "Posts, optionally about a market" },
  { name: "health", description: "Whether the service and its dependencies answer" },
  { name: "jobs", description: "Background jobs (admins)" },
];

/** The refusals a REST call can meet: HTTP status and what the document says of each. */
const ERRORS = {
  BAD_REQUEST: { status: 400, description: "Invalid input: the fields are in `data.fieldErrors`" },
  UNAUTHORIZED: { status: 401, description: "Authentication required, or the credentials do not check out" },
  FORBIDDEN: { status: 403, description: "Not allowed" },
  NOT_FOUND: { status: 404, description: "Not found, or hidden from the caller" },
  CONFLICT: { status: 409, description: "Conflicts with the current state (uniqueness, stock, status)" },
  PAYLOAD_TOO_LARGE: { status: 413, description: "The request body is larger than 1 MiB" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, description: "The request body is not JSON" },
  TOO_MANY_REQUESTS: { status: 429, description: "Too many requests; retry after `Retry-After` seconds" },
  INTERNAL_SERVER_ERROR: { status: 500, description: "Internal server error: quote `data.requestId`" },
  SERVICE_UNAVAILABLE: { status: 503, description: "A dependency is unavailable; retry after `Retry-After`" },
} as const;
type ErrorCode = keyof typeof ERRORS;

const CREDENTIALS_REFUSED =
  "Credentials were sent and do not check out (expired, revoked, malformed); without any, the call is anonymous";

/**
 * The one shape of every refusal, `/trpc` and REST alike. `data` is open: a code may add its
 * own detail (e.g. a stock conflict's `data.stock`) without breaking clients of this shape.
 */
function errorSchema(code: ErrorCode): JsonObject {
  const { status, description } = ERRORS[code];
  return {
    type: "object",
    title: `${code} (${String(status)})`,
    description,
    additionalProperties: false,
    properties: {
      code: { type: "string", const: code },
      message: { type: "string", description: "For people; `code` and `data` are for programs" },
      data: {
        type: "object",
        properties: {
          code: { type: "string", const: code },
          httpStatus: { type: "integer", const: status },
          path: {
            type: ["string", "null"],
            description: "The procedure (`orders.create`); null when the request was refused before one ran",
          },
          requestId: { type: "string", description: "Quote it to an operator; also in `X-Request-Id`" },
          fieldErrors: {
            type: ["object", "null"],
            additionalProperties: { type: "array", items: { type: "string" } },
            description: 'Invalid input: `{ "field.path": ["message"] }`; null otherwise',
          },
          stock: {
            type: ["object", "null"],
            additionalProperties: false,
            properties: {
              productId: { type: "string" },
              available: { type: "integer", description: "Units left" },
              requested: { type: "integer", description: "Units the order line asked for" },
            },
            required: ["productId", "available", "requested"],
            description:
              "A CONFLICT refusing an order line for want of stock: which product, units left and asked for; null otherwise",
          },
        },
        required: ["code", "httpStatus", "path", "requestId", "fieldErrors", "stock"],
      },
    },
    required: ["code", "message", "data"],
    examples: [
      {
        code,
        message: code === "BAD_REQUEST" ? "email: Must be a valid email address" : description,
        data: {
          code,
          httpStatus: status,
          path: "auth.register",
          requestId: "5c3ad8c1-9619-4267-9f84-c69e667ff0ff",
          fieldErrors: code === "BAD_REQUEST" ? { email: ["Must be a valid email address"] } : null,
          stock: null,
        },
      },
    ],
  };
}

const retryAfter = {
  "Retry-After": { description: "Seconds to wait before retrying", schema: { type: "integer", minimum: 0 } },
};

function errorResponse(code: ErrorCode, description?: string): JsonObject {
  return {
    description: description ?? ERRORS[code].description,
    ...(code === "TOO_MANY_REQUESTS" || code === "SERVICE_UNAVAILABLE" ? { headers: retryAfter } : {}),
    content: { "application/json": { schema: { $ref: `#/components/schemas/error.${code}` } } },
  };
}

/** Who may call, as OpenAPI says it: the credentials each kind of caller may send. */
const SECURITY: Record<ProcedureAccess, JsonObject[]> = {
  anonymous: [],
  public: [{}, { bearerAuth: [] }, { apiKey: [] }],
  "signed-in": [{ bearerAuth: [] }, { apiKey: [] }],
  user: [{ bearerAuth: [] }],
  admin: [{ bearerAuth: [] }, { apiKey: [] }],
};

/** The refusals an operation can answer, from its access, its input and its meta. */
function errorsOf(op: RestOperation): ErrorCode[] {
  const declared = new Set(op.openapi.errors ?? []);
  const codes: ErrorCode[] = [];
  if (op.input) codes.push("BAD_REQUEST");
  if (op.access !== "anonymous" || declared.has("UNAUTHORIZED")) codes.push("UNAUTHORIZED");
  if (["signed-in", "user", "admin"].includes(op.access) || declared.has("FORBIDDEN"))
    codes.push("FORBIDDEN");
  if (op.pathParams.length > 0 || declared.has("NOT_FOUND")) codes.push("NOT_FOUND");
  if (op.openapi.method !== "GET" || declared.has("CONFLICT")) codes.push("CONFLICT");
  if (op.hasBody) codes.push("PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE");
  codes.push("TOO_MANY_REQUESTS", "INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE");
  return codes;
}

/** Examples of integers by field name (zod's `int()` alone would show ±2^53 in Swagger UI). */
const INTEGER_EXAMPLES: Record<string, number> = {
  volumeCents: 125_000,
  totalCents: 3998,
  priceCents: 1999,
  unitPriceCents: 1999,
  stock: 25,
  quantity: 2,
  total: 42,
  expiresIn: 900,
  limit: 20,
  failed: 0,
};
const DATE_EXAMPLE = "2026-12-06T09:30:00.000Z";

/** Adds metadata to one schema, keeping what it has (its `.describe()` text, for one). */
function annotate(schema: z.ZodType, meta: Record<string, unknown>): void {
  const existing = z.globalRegistry.get(schema) ?? {};
  z.globalRegistry.remove(schema);
  z.globalRegistry.add(schema, { ...meta, ...existing });
}

/**
 * What the zod schemas do not say of themselves, as document metadata (the registry zod-openapi
 * reads; validation does not change): timestamps are RFC 3339 `date-time` strings, and
 * integers have an example.
 */
function annotateSchemas(schema: z.ZodType, key: string | undefined, seen: Set<z.ZodType>): void {
  if (seen.has(schema)) return;
  seen.add(schema);
  const next = (inner: z.ZodType, name = key) => {
    annotateSchemas(inner, name, seen);
  };
  const inner = schema instanceof z.ZodPipe ? null : innerOf(schema);
  if (inner) next(inner);
  else if (schema instanceof z.ZodObject) {
    for (const [name, field] of fieldsOf(schema)) next(field, name);
  } else if (schema instanceof z.ZodArray) next(schema.element as z.ZodType);
  else if (schema instanceof z.ZodPipe) {
    next(schema.in as z.ZodType);
    next(schema.out as z.ZodType);
  } else if (schema instanceof z.ZodUnion) {
    for (const option of schema.options as z.ZodType[]) next(option);
  } else if (schema instanceof z.ZodDate) {
    annotate(schema, { format: "date-time", examples: [DATE_EXAMPLE] });
  } else if (
    schema instanceof z.ZodNumber &&
    schema.format === "safeint" &&
    z.globalRegistry.get(schema)?.examples === undefined
  ) {
    const min = schema.minValue;
    const example =
      (key !== undefined ? INTEGER_EXAMPLES[key] : undefined) ??
      (min !== null && min > Number.MIN_SAFE_INTEGER ? min : 0);
    annotate(schema, { examples: [example] });
  }
}

/** The safe-integer bounds zod gives every `int()`: true of any JSON integer we send, and noise. */
function withoutSafeIntegerBounds(value: unknown): void {
  if (Array.isArray(value)) {
    for (const item of value) withoutSafeIntegerBounds(item);
    return;
  }
  if (typeof value !== "object" || value === null) return;
  const node = value as JsonObject;
  if (node.minimum === Number.MIN_SAFE_INTEGER) delete node.minimum;
  if (node.maximum === Number.MAX_SAFE_INTEGER) delete node.maximum;
  for (const child of Object.values(node)) withoutSafeIntegerBounds(child);
}

/** The queries and mutations not on REST, and why; the subscriptions. */
function notOnRest(): string[] {
  const lines: string[] = [];
  for (const [path, procedure] of allProcedures()) {
    const meta = metaOf(procedure);
    if (meta.openapi) continue;
    if (procedure._def.type === "subscription") {
      lines.push(`\`${path}\`: a subscription, served as server-sent events at \`/trpc/${path}\` (tRPC).`);
    } else if (meta.internal) lines.push(`\`${path}\`: ${meta.internal}`);
  }
  return lines;
}

/**
 * The OpenAPI 3.1 document of every REST operation, generated from the same zod schemas the
 * procedures validate with (trpc-to-openapi, zod-openapi), then told what the library cannot
 * know: who may call each operation (`meta.access`), every status it answers and the one error
 * shape, timestamps as `date-time`. The server URL is relative, so "try it out" in the docs
 * calls whichever host served them.
 */
export function openApiDocument(version: string): OpenAPIObject {
  const operations = restOperations();
  const seen = new Set<z.ZodType>();
  for (const op of operations) {
    const input = inputOf(op.procedure);
    if (input) annotateSchemas(input, undefined, seen);
    const output = (op.procedure._def as { output?: unknown }).output;
    if (output instanceof z.ZodType) annotateSchemas(output, undefined, seen);
  }
  const missing = notOnRest();
  const document = generateOpenApiDocument(appRouter, {
    title: "Agora REST API",
    description: [
      "REST view of Agora's tRPC procedures, for callers that are not written in TypeScript:",
      "the same services, validation and authorization as `/trpc`.",
      "",
      "Authenticate with `Authorization: Bearer <accessToken>` (from `POST /auth/login`) or, as a",
      "service, `X-Api-Key: <key>`; each operation's security lists what it accepts (`[]`: nothing needed).",
      "",
      "JSON bodies are strictly typed (a string where a number or a boolean belongs is a 400 naming",
      "the field); query and path parameters are read from their text (`limit=20`, `true`, RFC 3339",
      "dates). Timestamps are RFC 3339 strings, money integer cents.",
      "",
      "Every error is `{ code, message, data: { code, httpStatus, path, requestId, fieldErrors } }`;",
      "`data` may carry more (a stock conflict's `data.stock`). 400 names the invalid fields in",
      "`data.fieldErrors`, 429 and 503 send `Retry-After`, 500 only the request id to quote.",
      ...(missing.length > 0 ? ["", "Not on REST:", ...missing.map((line) => `- ${line}`)] : []),
    ].join("\n"),
    version,
    baseUrl: REST_BASE_PATH,
    securitySchemes: {
      bearerAuth: {
        type: "http",
        scheme: "bearer",
        bearerFormat: "JWT",
        description: "The `accessToken` of `POST /auth/login`, `/auth/register` or `/auth/refresh`",
      },
      apiKey: {
        type: "apiKey",
        in: "header",
        name: "X-Api-Key",
        description: "A key made with `POST /api-keys`; never accepted where only a user may act",
      },
    },
  });
  const schemas: JsonObject = Object.fromEntries(
    Object.entries(document.components?.schemas ?? {}).filter(([key]) => !key.startsWith("error.")),
  );
  for (const code of Object.keys(ERRORS) as ErrorCode[]) schemas[`error.${code}`] = errorSchema(code);
  const paths = document.paths as Record<string, Record<string, JsonObject>>;
  for (const op of operations) {
    const operation = paths[op.path]?.[op.openapi.method.toLowerCase()];
    if (!operation) throw new Error(`${op.procedurePath}: not in the generated document`);
    operation.security = SECURITY[op.access];
    const generated = (operation.responses ?? {}) as JsonObject;
    const responses: JsonObject = { "200": generated["200"] };
    for (const code of errorsOf(op)) {
      responses[String(ERRORS[code].status)] =
        code === "UNAUTHORIZED" && op.access === "public" && !op.openapi.errors?.includes("UNAUTHORIZED")
          ? errorResponse(code, CREDENTIALS_REFUSED)
          : errorResponse(code);
    }
    operation.responses = responses;
  }
  withoutSafeIntegerBounds(document.paths);
  withoutSafeIntegerBounds(schemas);
  return {
    ...document,
    info: { ...document.info },
    tags: TAGS,
    components: { ...document.components, schemas },
  } as OpenAPIObject;
}
