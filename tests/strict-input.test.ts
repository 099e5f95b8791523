import { appRouter } from "@agora/server/router";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { startTestServer, type TestServer } from "./support/server.js";
import { loginAdmin } from "./support/people.js";

/**
 * Inputs are strictly typed on /trpc and in REST JSON bodies: a string where a boolean, a
 * number or a date belongs is BAD_REQUEST naming the field. Only REST query and path parameters
 * are read from strings. The table is generated from the procedures' own input schemas, so a
 * new field is covered without touching this file.
 */

type Kind = "boolean" | "number" | "date";
interface Leaf {
  procedure: string;
  type: "query" | "mutation";
  /** The zod issue path of the field, e.g. ["items", 0, "quantity"]. */
  path: (string | number)[];
  kind: Kind;
}

function unwrap(schema: z.ZodType): z.ZodType {
  const def = schema._zod.def;
  if (["optional", "nullable", "default", "prefault"].includes(def.type))
    return unwrap((def as z.core.$ZodOptionalDef).innerType as z.ZodType);
  if (def.type === "pipe") return unwrap((def as z.core.$ZodPipeDef).in as z.ZodType);
  return schema;
}

function leavesOf(
  schema: z.ZodType,
  path: (string | number)[],
  found: Omit<Leaf, "procedure" | "type">[],
): void {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodBoolean) found.push({ path, kind: "boolean" });
  else if (inner instanceof z.ZodNumber) found.push({ path, kind: "number" });
  else if (inner instanceof z.ZodDate) found.push({ path, kind: "date" });
  else if (inner instanceof z.ZodArray) leavesOf(inner.element as z.ZodType, [...path, 0], found);
  else if (inner instanceof z.ZodObject)
    for (const [key, field] of Object.entries(inner.shape))
      if (field instanceof z.ZodType) leavesOf(field, [...path, key], found);
}

function allLeaves(): Leaf[] {
  const procedures = appRouter._def.procedures as unknown as Record<
    string,
    { _def: { type: string; inputs: z.ZodType[] } }
  >;
  const leaves: Leaf[] = [];
  for (const [procedure, { _def }] of Object.entries(procedures)) {
    if (_def.type !== "query" && _def.type !== "mutation") continue;
    const found: Omit<Leaf, "procedure" | "type">[] = [];
    for (const input of _def.inputs) leavesOf(input, [], found);
    for (const leaf of found) leaves.push({ procedure, type: _def.type, ...leaf });
  }
  return leaves;
}

/** An input with `value` at `path` and nothing else. */
function inputWith(path: (string | number)[], value: unknown): unknown {
  const [head, ...rest] = path;
  if (head === undefined) return value;
  return typeof head === "number" ? [inputWith(rest, value)] : { [head]: inputWith(rest, value) };
}

/** Wrong values that a lax parser would take: strings that look right, and other types. */
const WRONG_IN_JSON: Record<Kind, unknown[]> = {
  boolean: ["false", "true", "yes", 1, 0],
  number: ["12", "1e3", "0", true],
  date: [1_893_456_000_000, "tomorrow", "2030-01-01"],
};
/** A date is an RFC 3339 string in REST JSON (JSON has no dates); on /trpc it is a superjson Date. */
const WRONG_ON_TRPC: Record<Kind, unknown[]> = {
  ...WRONG_IN_JSON,
  date: [...WRONG_IN_JSON.date, "2030-01-01T00:00:00.000Z"],
};
/** Query parameters are text: only the plain spelling of a number or a boolean is read. */
const WRONG_IN_QUERY: Record<Kind, string[]> = {
  boolean: ["yes", "1", "TRUE"],
  number: ["abc", "1e3", "12abc", "0x10", " 12"],
  date: ["tomorrow", "1893456000000"],
};

interface ErrorBody {
  code?: string;
  data?: { code?: string; fieldErrors?: Record<string, string[]> | null };
}

let ts: TestServer;
let token: string;
let restOps: Map<string, { method: string; path: string; body: boolean; query: Set<string> }>;
beforeAll(async () => {
  ts = await startTestServer();
  token = (await loginAdmin(ts)).tokens.accessToken;
  const document = (await (await fetch(`${ts.url}/api/openapi.json`)).json()) as {
    paths: Record<
      string,
      Record<
        string,
        { operationId: string; requestBody?: unknown; parameters?: { name: string; in: string }[] }
      >
    >;
  };
  restOps = new Map();
  for (const [path, item] of Object.entries(document.paths))
    for (const [method, op] of Object.entries(item))
      restOps.set(op.operationId.replace(/-/g, "."), {
        method: method.toUpperCase(),
        path,
        body: op.requestBody !== undefined,
        query: new Set((op.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name)),
      });
});
afterAll(async () => {
  await ts.close();
});

function refusal(label: string, status: number, body: ErrorBody | undefined, field: string): string | null {
  const errors = body?.data?.fieldErrors ?? {};
  if (status === 400 && body?.data?.code === "BAD_REQUEST" && Object.hasOwn(errors, field)) return null;
  return `${label}: ${String(status)} ${JSON.stringify(body).slice(0, 200)}`;
}

describe("strict input types, generated from the input schemas", () => {
  it("finds the boolean, number and date inputs", () => {
    const names = allLeaves().map((l) => `${l.procedure}:${l.path.join(".")}`);
    expect(names).toEqual(
      expect.arrayContaining([
        "posts.create:published",
        "posts.update:data.published",
        "products.create:priceCents",
        "products.create:stock",
        "products.update:data.priceCents",
        "products.update:data.stock",
        "orders.create:items.0.quantity",
        "markets.list:limit",
        "apiKeys.create:expiresAt",
      ]),
    );
  });

  it("REST: a JSON body never coerces; a query parameter is read only from its plain spelling", async () => {
    const problems: string[] = [];
    let checked = 0;
    for (const leaf of allLeaves()) {
      const op = restOps.get(leaf.procedure);
      if (!op) continue;
      const field = leaf.path.join(".");
      const url = op.path.replace(/\{[^}]+\}/g, "cm0nothing0here");
      const send = async (label: string, search: string, body?: unknown) => {
        checked += 1;
        const res = await fetch(`${ts.url}/api/v1${url}${search}`, {
          method: op.method,
          headers: {
            authorization: `Bearer ${token}`,
            ...(body !== undefined ? { "content-type": "application/json" } : {}),
          },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        });
        const problem = refusal(label, res.status, (await res.json()) as ErrorBody, field);
        if (problem) problems.push(problem);
      };
      if (op.body) {
        for (const value of WRONG_IN_JSON[leaf.kind])
          await send(
            `${op.method} ${op.path} ${field}=${JSON.stringify(value)}`,
            "",
            inputWith(leaf.path, value),
          );
      } else if (leaf.path.length === 1 && op.query.has(field)) {
        for (const value of WRONG_IN_QUERY[leaf.kind])
          await send(
            `${op.method} ${op.path}?${field}=${value}`,
            `?${new URLSearchParams({ [field]: value }).toString()}`,
          );
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(40);
  });

  it("REST: the plain spelling of a query parameter is read, and a JSON body's proper types are taken", async () => {
    const page = await fetch(`${ts.url}/api/v1/markets?limit=2&order=asc`);
    expect(page.status).toBe(200);
    const me = await fetch(`${ts.url}/api/v1/posts`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ title: "Draft", content: "Not yet", published: false }),
    });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ published: false });
    const key = await fetch(`${ts.url}/api/v1/api-keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "dated", expiresAt: "2031-02-03T04:05:06.000Z" }),
    });
    expect(key.status).toBe(200);
    const listed = (await (
      await fetch(`${ts.url}/api/v1/api-keys`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { name: string; expiresAt: string | null }[];
    expect(listed.find((k) => k.name === "dated")?.expiresAt).toBe("2031-02-03T04:05:06.000Z");
  });

  it("/trpc: every boolean, number and date input refuses a string (after REST calls on the same schemas)", async () => {
    const problems: string[] = [];
    let checked = 0;
    for (const leaf of allLeaves()) {
      const field = leaf.path.join(".");
      for (const value of WRONG_ON_TRPC[leaf.kind]) {
        checked += 1;
        const envelope = encodeURIComponent(JSON.stringify({ json: inputWith(leaf.path, value) }));
        const res =
          leaf.type === "query"
            ? await fetch(`${ts.url}/trpc/${leaf.procedure}?input=${envelope}`, {
                headers: { authorization: `Bearer ${token}` },
              })
            : await fetch(`${ts.url}/trpc/${leaf.procedure}`, {
                method: "POST",
                headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
                body: JSON.stringify({ json: inputWith(leaf.path, value) }),
              });
        const body = (await res.json()) as { error?: { json?: ErrorBody } };
        const problem = refusal(
          `${leaf.procedure} ${field}=${JSON.stringify(value)}`,
          res.status,
          body.error?.json,
          field,
        );
        if (problem) problems.push(problem);
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(40);
  });
});
