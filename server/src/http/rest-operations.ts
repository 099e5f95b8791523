import type { AnyProcedure } from "@trpc/server";
import { z } from "zod";
import { appRouter } from "../router.js";
import type { ProcedureAccess, ProcedureMeta } from "../trpc/init.js";

type RestMeta = NonNullable<ProcedureMeta["openapi"]>;

/** One REST operation: a procedure with `meta.openapi`, as the router and the document see it. */
export interface RestOperation {
  /** The procedure's dotted path, e.g. `orders.cancel`. */
  readonly procedurePath: string;
  readonly procedure: AnyProcedure;
  readonly type: "query" | "mutation";
  readonly access: ProcedureAccess;
  readonly openapi: RestMeta;
  /** `/orders/{id}/cancel` */
  readonly path: string;
  readonly pathParams: readonly string[];
  /** Matches a request path, with a named group per path parameter. */
  readonly pattern: RegExp;
  /** The input object (undefined for a procedure without input). */
  readonly input: z.ZodObject | undefined;
  /** Whether the operation reads a JSON body: a write with input fields beyond its path. */
  readonly hasBody: boolean;
}

const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The procedures at run time: tRPC keeps them flat, under their dotted paths. */
export function allProcedures(): [string, AnyProcedure][] {
  return Object.entries(appRouter._def.procedures as unknown as Record<string, AnyProcedure>);
}

export function metaOf(procedure: AnyProcedure): ProcedureMeta {
  return procedure._def.meta ?? {};
}

/** The input object of a procedure; every procedure declares at most one `.input()`. */
export function inputOf(procedure: AnyProcedure): z.ZodObject | undefined {
  const inputs = (procedure._def as { inputs?: unknown[] }).inputs ?? [];
  const input = inputs[0];
  if (inputs.length > 1 || (input !== undefined && !(input instanceof z.ZodObject)))
    throw new Error("A REST procedure takes one zod object as input");
  return input;
}

function operationOf(procedurePath: string, procedure: AnyProcedure): RestOperation | null {
  const meta = metaOf(procedure);
  const type = procedure._def.type;
  if (!meta.openapi || type === "subscription") return null;
  const { openapi } = meta;
  const pathParams = [...openapi.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] ?? "");
  const input = inputOf(procedure);
  const source = openapi.path
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const param = /^\{([^}]+)\}$/.exec(part)?.[1];
      return param ? `(?<${param}>[^/]+)` : escapeRegExp(part);
    })
    .join("");
  const bodyFields = Object.keys(input?.shape ?? {}).filter((key) => !pathParams.includes(key));
  return {
    procedurePath,
    procedure,
    type,
    access: meta.access ?? "anonymous",
    openapi,
    path: openapi.path,
    pathParams,
    pattern: new RegExp(`^${source}/?$`),
    input,
    hasBody: BODY_METHODS.has(openapi.method) && bodyFields.length > 0,
  };
}

/**
 * Every REST operation, the ones with fewer path parameters first, so that `/users/me` is
 * matched before `/users/{id}`.
 */
export function restOperations(): RestOperation[] {
  return allProcedures()
    .map(([path, procedure]) => operationOf(path, procedure))
    .filter((op): op is RestOperation => op !== null)
    .sort((a, b) => a.pathParams.length - b.pathParams.length);
}

/** What a wrapper schema holds (optional, nullable, default, ...), or null for a leaf. */
export function innerOf(schema: z.ZodType): z.ZodType | null {
  const def = schema._zod.def;
  switch (def.type) {
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "readonly":
    case "catch":
      return (def as z.core.$ZodOptionalDef).innerType as z.ZodType;
    case "pipe":
      // A pipe reads what its first schema reads (e.g. a trimmed string piped into an email).
      return (def as z.core.$ZodPipeDef).in as z.ZodType;
    default:
      return null;
  }
}

/** The fields of an object schema. */
export function fieldsOf(object: z.ZodObject): [string, z.ZodType][] {
  const shape: Record<string, unknown> = object.shape;
  const out: [string, z.ZodType][] = [];
  for (const [key, field] of Object.entries(shape)) if (field instanceof z.ZodType) out.push([key, field]);
  return out;
}

/** The schema under its wrappers. */
export function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (let inner = innerOf(current); inner; inner = innerOf(current)) current = inner;
  return current;
}

/** RFC 3339 date-time, as `format: date-time` documents it. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i;

function parseDateTime(value: string): Date | string {
  if (!DATE_TIME.test(value)) return value;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date;
}

/**
 * A JSON value as the procedure's schema reads it: JSON has no dates, so a date is an RFC 3339
 * string there and becomes a Date here. Nothing else changes type: a string where a number or
 * a boolean belongs stays a string, and the procedure refuses it naming the field.
 */
export function reviveDates(schema: z.ZodType, value: unknown): unknown {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodDate) return typeof value === "string" ? parseDateTime(value) : value;
  if (inner instanceof z.ZodArray && Array.isArray(value))
    return value.map((item: unknown) => reviveDates(inner.element as z.ZodType, item));
  if (inner instanceof z.ZodObject && typeof value === "object" && value !== null && !Array.isArray(value)) {
    const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    for (const [key, field] of fieldsOf(inner)) {
      if (Object.hasOwn(out, key)) out[key] = reviveDates(field, out[key]);
    }
    return out;
  }
  return value;
}

const DECIMAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?$/;

/**
 * A query or path parameter as its field reads it. These arrive as text, so they alone are
 * read from strings, and only in their one plain spelling: `12` for a number, `true` or
 * `false` for a boolean, RFC 3339 for a date. Anything else stays a string, which the
 * procedure refuses naming the field. The schemas themselves are never changed: they are the
 * ones `/trpc` and JSON bodies validate with, strictly.
 */
export function fromParameter(schema: z.ZodType, value: string): unknown {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodNumber) return DECIMAL.test(value) ? Number(value) : value;
  if (inner instanceof z.ZodBoolean) return value === "true" ? true : value === "false" ? false : value;
  if (inner instanceof z.ZodDate) return parseDateTime(value);
  return value;
}
