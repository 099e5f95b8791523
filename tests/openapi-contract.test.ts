import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { appRouter } from "@agora/server/router";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { sample } from "openapi-sampler";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "./support/build.js";
import { ADMIN, startTestServer, type TestServer } from "./support/server.js";
import { loginAdmin, registerUser } from "./support/people.js";

const execFileAsync = promisify(execFile);

type Json = Record<string, unknown>;
interface Parameter {
  name: string;
  in: "path" | "query" | "header";
  required?: boolean;
  schema: Json;
}
interface Operation {
  operationId: string;
  security?: Json[];
  parameters?: Parameter[];
  requestBody?: { content: { "application/json": { schema: Json } } };
  responses: Record<string, { content?: { "application/json"?: { schema: Json } } }>;
}
interface Document {
  info: { description: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Json> };
}

let ts: TestServer;
let document: Document;
beforeAll(async () => {
  ts = await startTestServer();
  document = (await (await fetch(`${ts.url}/api/openapi.json`)).json()) as Document;
});
afterAll(async () => {
  await ts.close();
});

/** A schema with the document's `$ref`s replaced by what they name (ours do not nest). */
function resolved(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(resolved);
  if (typeof schema !== "object" || schema === null) return schema;
  const ref = (schema as Json).$ref;
  if (typeof ref === "string") {
    const name = ref.replace("#/components/schemas/", "");
    const target = document.components.schemas[name];
    if (!target) throw new Error(`unresolved ${ref}`);
    return resolved(target);
  }
  return Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, resolved(value)]));
}

function operations(): { method: string; path: string; op: Operation }[] {
  return Object.entries(document.paths).flatMap(([p, item]) =>
    Object.entries(item).map(([method, op]) => ({ method: method.toUpperCase(), path: p, op })),
  );
}

describe("the OpenAPI document", () => {
  it("passes the OpenAPI linter's recommended rules (@redocly/cli lint) without an error or a warning", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "agora-openapi-"));
    try {
      const file = path.join(dir, "openapi.json");
      await writeFile(file, JSON.stringify(document));
      const bin = path.join(repoRoot, "tests/node_modules/.bin/redocly");
      let output: string;
      try {
        const result = await execFileAsync(
          bin,
          ["lint", file, "--config", path.join(repoRoot, "redocly.yaml"), "--format", "json"],
          {
            cwd: repoRoot,
            env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
          },
        );
        output = result.stdout;
      } catch (error) {
        output = (error as { stdout?: string }).stdout ?? String(error);
      }
      const report = JSON.parse(output) as {
        totals: { errors: number; warnings: number };
        problems: { ruleId: string; message: string }[];
      };
      expect(report.problems.map((p) => `${p.ruleId}: ${p.message}`)).toEqual([]);
      expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("has every query and mutation, unless marked internal; lists what is not on REST", () => {
    const byId = new Set(operations().map(({ op }) => op.operationId.replace(/-/g, ".")));
    const procedures = Object.entries(
      appRouter._def.procedures as unknown as Record<
        string,
        { _def: { type: string; meta?: { openapi?: unknown; internal?: string } } }
      >,
    );
    expect(procedures.length).toBeGreaterThanOrEqual(42);
    const missing = procedures
      .filter(([, p]) => p._def.type !== "subscription" && !p._def.meta?.openapi && !p._def.meta?.internal)
      .map(([name]) => name);
    expect(missing, "procedures without meta.openapi (or meta.internal with the reason)").toEqual([]);
    for (const [name, p] of procedures) {
      if (p._def.type === "subscription" || p._def.meta?.internal) {
        expect(byId.has(name)).toBe(false);
        expect(document.info.description).toContain(`\`${name}\``);
      } else expect(byId.has(name), name).toBe(true);
    }
  });

  it("says who may call: security follows meta.access", () => {
    const security = (method: string, p: string) => document.paths[p]?.[method]?.security;
    const bearer = { bearerAuth: [] };
    const key = { apiKey: [] };
    // Needs nothing (credentials are not read).
    expect(security("post", "/auth/login")).toEqual([]);
    expect(security("get", "/health")).toEqual([]);
    // Anyone; credentials are read when sent.
    expect(security("get", "/markets/{id}")).toEqual([{}, bearer, key]);
    // A person, never an API key.
    for (const [m, p] of [
      ["post", "/markets"],
      ["post", "/orders"],
      ["get", "/orders"],
      ["post", "/posts"],
      ["get", "/users/me"],
      ["post", "/auth/logout"],
    ] as const)
      expect(security(m, p), `${m} ${p}`).toEqual([bearer]);
    // Admins, users or keys with the role.
    expect(security("get", "/users")).toEqual([bearer, key]);
    expect(security("patch", "/markets/{id}")).toEqual([bearer, key]);
  });

  it("types timestamps as date-time, gives integers real examples, and carries zod's .describe() texts", () => {
    const me = resolved(
      document.paths["/users/me"]?.get?.responses["200"]?.content?.["application/json"]?.schema,
    ) as {
      properties: Record<string, Json>;
    };
    expect(me.properties.createdAt).toMatchObject({ type: "string", format: "date-time" });
    // UserPublic.email has `.describe(...)` in users/schemas.ts.
    expect(me.properties.email?.description).toBe("The email address: present only for this user and admins");
    const text = JSON.stringify(document);
    expect(text).not.toContain(String(Number.MAX_SAFE_INTEGER));
    const market = resolved(
      document.paths["/markets/{id}"]?.get?.responses["200"]?.content?.["application/json"]?.schema,
    ) as {
      properties: Record<string, Json>;
    };
    expect(market.properties.volumeCents).toMatchObject({ type: "integer", examples: [125_000] });
    expect(market.properties.updatedAt).toMatchObject({ format: "date-time" });
  });

  it("shows the real constraints of the register body", () => {
    const body = document.paths["/auth/register"]?.post?.requestBody?.content["application/json"].schema as {
      properties: Record<string, Json>;
    };
    expect(body.properties.email).toMatchObject({ type: "string", format: "email", maxLength: 254 });
    expect(body.properties.username).toMatchObject({ pattern: "^[A-Za-z0-9_]{3,30}$" });
    expect(body.properties.password).toMatchObject({
      maxLength: 72,
      pattern: "^(?=.*[A-Z])(?=.*[a-z])(?=.*[0-9])",
    });
    expect(String(body.properties.password?.description)).toMatch(/8 to 72 bytes/);
  });
});

/** The people, keys and rows the contract walk acts with and on. */
interface World {
  callers: { name: string; headers: Record<string, string>; password?: string; email?: string }[];
  ids: Record<string, string>;
  sellerEmail: string;
}

let seq = 0;
const unique = () => `${Date.now().toString(36)}${(seq += 1).toString()}`;

async function buildWorld(): Promise<World> {
  const admin = await loginAdmin(ts);
  const seller = await registerUser(ts);
  const other = await registerUser(ts);
  const spare = await registerUser(ts);
  const doomed = await registerUser(ts);
  const market = await seller.api.markets.create.mutate({ name: "Contract market", status: "ACTIVE" });
  const draft = await seller.api.markets.create.mutate({ name: "Contract draft", status: "DRAFT" });
  const product = await seller.api.products.create.mutate({
    marketId: market.id,
    name: "Lamp",
    priceCents: 1250,
    stock: 10_000,
  });
  const spareProduct = await seller.api.products.create.mutate({
    marketId: market.id,
    name: "Spare",
    priceCents: 1,
    stock: 1,
  });
  const order = await seller.api.orders.create.mutate({
    marketId: market.id,
    items: [{ productId: product.id, quantity: 1 }],
  });
  const post = await seller.api.posts.create.mutate({
    title: "Hello",
    content: "World",
    marketId: market.id,
  });
  const sparePost = await seller.api.posts.create.mutate({ title: "Spare", content: "Post" });
  const userKey = await admin.api.apiKeys.create.mutate({ name: "contract user key", role: "USER" });
  const adminKey = await admin.api.apiKeys.create.mutate({ name: "contract admin key", role: "ADMIN" });
  const doomedKey = await admin.api.apiKeys.create.mutate({ name: "contract doomed key" });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  return {
    callers: [
      { name: "anonymous", headers: {} },
      { name: "bad token", headers: bearer("not-a-token") },
      { name: "bad API key", headers: { "x-api-key": "agora_not-a-key" } },
      { name: "USER API key", headers: { "x-api-key": userKey.key } },
      { name: "other user", headers: bearer(other.tokens.accessToken), ...other.input },
      { name: "owner", headers: bearer(seller.tokens.accessToken), ...seller.input },
      { name: "ADMIN API key", headers: { "x-api-key": adminKey.key } },
      { name: "admin", headers: bearer(admin.tokens.accessToken), ...ADMIN },
    ],
    ids: {
      market: market.id,
      draft: draft.id,
      product: product.id,
      spareProduct: spareProduct.id,
      order: order.id,
      post: post.id,
      sparePost: sparePost.id,
      spareUser: spare.user.id,
      doomedUser: doomed.user.id,
      doomedKey: doomedKey.id,
    },
    sellerEmail: seller.input.email,
  };
}

/** The id a path parameter names, for a valid call (deletes act on rows kept for them). */
function pathId(world: World, method: string, p: string, param: string): string {
  const { ids } = world;
  if (param === "marketId") return ids.market ?? "";
  if (p.startsWith("/markets/")) return (method === "DELETE" ? ids.draft : ids.market) ?? "";
  if (p.startsWith("/products/")) return (method === "DELETE" ? ids.spareProduct : ids.product) ?? "";
  if (p.startsWith("/orders/")) return ids.order ?? "";
  if (p.startsWith("/posts/")) return (method === "DELETE" ? ids.sparePost : ids.post) ?? "";
  if (p.startsWith("/users/")) return (method === "DELETE" ? ids.doomedUser : ids.spareUser) ?? "";
  if (p.startsWith("/api-keys/")) return ids.doomedKey ?? "";
  throw new Error(`no id for ${method} ${p} {${param}}`);
}

/** A valid value built from the schema, with what the schema cannot know put in. */
function fill(value: unknown, world: World, caller: World["callers"][number], key?: string): unknown {
  switch (key) {
    case "marketId":
      return world.ids.market;
    case "productId":
      return world.ids.product;
    case "email":
      return `contract_${unique()}@example.com`;
    case "username":
      return `c_${unique()}`;
    case "idempotencyKey":
      return `key-${unique()}`;
    case "expiresAt":
      return new Date(Date.now() + 86_400_000).toISOString();
    case "currentPassword":
    case "newPassword":
      return caller.password ?? "Passw0rdGood";
    case "cursor":
      return undefined;
  }
  if (Array.isArray(value)) return value.map((item) => fill(item, world, caller));
  if (typeof value === "object" && value !== null) {
    const out: Json = {};
    for (const [k, v] of Object.entries(value)) {
      const filled = fill(v, world, caller, k);
      if (filled !== undefined) out[k] = filled;
    }
    return out;
  }
  return value;
}

/** Per-procedure inputs the schema cannot suggest: the caller's own credentials, fresh tokens. */
async function special(
  procedure: string,
  world: World,
  caller: World["callers"][number],
): Promise<Json | null> {
  switch (procedure) {
    case "auth.login":
      return { email: caller.email ?? world.sellerEmail, password: caller.password ?? "Passw0rdGood" };
    case "auth.refresh":
    case "auth.logout": {
      const login = await ts.client().auth.login.mutate({
        email: caller.email ?? world.sellerEmail,
        password: caller.password ?? "Passw0rdGood",
      });
      return { refreshToken: login.tokens.refreshToken };
    }
    case "markets.update":
      return { data: { name: `Renamed ${unique()}` } };
    default:
      return null;
  }
}

interface Sent {
  label: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** Sends one request and checks the answer against the document; returns a problem or null. */
async function check(op: Operation, sent: Sent): Promise<{ problem: string | null; status: number }> {
  const res = await fetch(`${ts.url}/api/v1${sent.url}`, {
    method: sent.method,
    headers: sent.headers,
    ...(sent.body !== undefined ? { body: sent.body } : {}),
  });
  return { problem: await problemOf(op, sent, res), status: res.status };
}

async function problemOf(op: Operation, sent: Sent, res: Response): Promise<string | null> {
  const text = await res.text();
  const where = `${sent.method} ${sent.url} (${sent.label})`;
  const documented = op.responses[String(res.status)];
  if (!documented) return `${where}: undocumented status ${String(res.status)}: ${text.slice(0, 200)}`;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `${where}: ${String(res.status)} is not JSON: ${text.slice(0, 200)}`;
  }
  const schema = documented.content?.["application/json"]?.schema;
  if (!schema) return `${where}: ${String(res.status)} documents no JSON body`;
  const validate = ajv.compile(resolved(schema) as Json);
  if (!validate(body))
    return `${where}: ${String(res.status)} does not match its schema: ${ajv.errorsText(validate.errors)}: ${text.slice(0, 300)}`;
  if (res.status >= 400) {
    const requestId = (body as { data?: { requestId?: unknown } }).data?.requestId;
    if (requestId !== res.headers.get("x-request-id")) return `${where}: data.requestId is not X-Request-Id`;
    if (/Unexpected token|at position|SyntaxError|entity\.|stack|node_modules/.test(text))
      return `${where}: the error echoes internals: ${text.slice(0, 200)}`;
  }
  return null;
}

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);

/** A wrong-typed value for a JSON schema: what a careless client might send. */
function wrongFor(schema: Json): unknown {
  const declared: unknown = schema.type;
  const type: unknown = Array.isArray(declared) ? (declared as unknown[])[0] : declared;
  switch (type) {
    case "string":
      return 12;
    case "integer":
    case "number":
      return "12";
    case "boolean":
      return "false";
    case "array":
    case "object":
      return "x";
    default:
      return { nested: true };
  }
}

/** Bodies that break one field each (top level and one level down), and bodies that break all. */
function hostileBodies(schema: Json, valid: Json): [string, string][] {
  const out: [string, string][] = [
    ["empty object", "{}"],
    ["array", "[]"],
    ["null", "null"],
    ["malformed JSON", '{"a":'],
  ];
  const properties = (schema.properties ?? {}) as Record<string, Json>;
  // Right types, wrong values: ids that name nothing, a password or token that is not the one.
  const strings = Object.entries(properties).filter(([, field]) => field.type === "string");
  if (strings.length > 0) {
    const wrong = { ...valid };
    for (const [key] of strings) wrong[key] = key === "email" ? "nobody-here@example.com" : "Nothing-here-0";
    out.push(["every string a wrong value", JSON.stringify(wrong)]);
  }
  for (const [key, field] of Object.entries(properties)) {
    out.push([`${key}: wrong type`, JSON.stringify({ ...valid, [key]: wrongFor(field) })]);
    const inner = (field.properties ?? {}) as Record<string, Json>;
    for (const [innerKey, innerField] of Object.entries(inner)) {
      const nested = { ...(valid[key] as Json | undefined), [innerKey]: wrongFor(innerField) };
      out.push([`${key}.${innerKey}: wrong type`, JSON.stringify({ ...valid, [key]: nested })]);
    }
  }
  return out;
}

describe("every operation against the document, as every kind of caller", () => {
  it(
    "answers only documented statuses, each with a body valid against its documented schema",
    { timeout: 600_000 },
    async () => {
      const world = await buildWorld();
      // Writes that end rows or sessions come last, so the others still find what they act on.
      const rank = ({ method, path: p }: { method: string; path: string }) =>
        p === "/auth/logout-all"
          ? 3
          : method === "DELETE"
            ? 2
            : p.endsWith("/revoke") || p.endsWith("/cancel")
              ? 1
              : 0;
      const ordered = operations().sort((a, b) => rank(a) - rank(b));
      const problems: string[] = [];
      const succeeded = new Set<string>();
      let sentCount = 0;
      const run = async (op: Operation, sent: Sent) => {
        sentCount += 1;
        const { problem, status } = await check(op, sent);
        if (problem) problems.push(problem);
        if (status === 200) succeeded.add(op.operationId.replace(/-/g, "."));
      };
      for (const { method, path: p, op } of ordered) {
        const procedure = op.operationId.replace(/-/g, ".");
        const pathParams = (op.parameters ?? []).filter((x) => x.in === "path");
        const queryParams = (op.parameters ?? []).filter((x) => x.in === "query");
        const bodySchema = op.requestBody?.content["application/json"].schema;
        for (const caller of world.callers) {
          let url = p;
          for (const param of pathParams)
            url = url.replace(`{${param.name}}`, encodeURIComponent(pathId(world, method, p, param.name)));
          const query = new URLSearchParams();
          for (const param of queryParams) {
            const value = fill(sample(param.schema), world, caller, param.name);
            if (typeof value === "string" || typeof value === "number" || typeof value === "boolean")
              query.set(param.name, String(value));
          }
          const search = query.size > 0 ? `?${query.toString()}` : "";
          const headers: Record<string, string> = { ...caller.headers };
          let body: Json | undefined;
          if (bodySchema) {
            body = {
              ...(fill(sample(bodySchema), world, caller) as Json),
              ...((await special(procedure, world, caller)) ?? {}),
            };
            headers["content-type"] = "application/json";
          }
          const sent: Sent = {
            label: `valid, as ${caller.name}`,
            method,
            url: url + search,
            headers,
            ...(body ? { body: JSON.stringify(body) } : {}),
          };
          await run(op, sent);
          // Then hostile requests, as an anonymous caller and as an admin (who passes every check).
          if (caller.name !== "anonymous" && caller.name !== "admin") continue;
          if (bodySchema && body) {
            for (const [label, text] of hostileBodies(bodySchema, body))
              await run(op, { ...sent, label: `${label}, as ${caller.name}`, body: text });
            await run(op, {
              ...sent,
              label: `text/plain, as ${caller.name}`,
              headers: { ...headers, "content-type": "text/plain" },
            });
            if (caller.name === "anonymous")
              await run(op, {
                ...sent,
                label: "over 1 MiB",
                body: JSON.stringify({ ...body, pad: "x".repeat(1_100_000) }),
              });
          } else if (method !== "GET") {
            // A body where none is read, and with no Content-Type: ignored.
            await run(op, { ...sent, label: `stray body, as ${caller.name}`, body: "not json" });
          }
          for (const param of queryParams) {
            for (const bad of ["%00", "abc", "1e3", "-1", ""]) {
              const q = new URLSearchParams(query);
              q.set(param.name, decodeURIComponent(bad));
              await run(op, {
                ...sent,
                label: `${param.name}=${bad}, as ${caller.name}`,
                url: `${url}?${q.toString()}`,
              });
            }
          }
          for (const param of pathParams) {
            for (const bad of ["nothing-here", "a%00b", "%E0%A4%A", "x".repeat(300)]) {
              await run(op, {
                ...sent,
                label: `{${param.name}} = ${bad}, as ${caller.name}`,
                url: p.replace(`{${param.name}}`, bad) + search,
              });
            }
          }
        }
        if (procedure === "auth.changePassword" || procedure === "auth.logoutAll") {
          // Sessions end here: the callers sign in again for the operations after.
          for (const caller of world.callers) {
            if (!caller.email || !caller.password) continue;
            const login = await ts
              .client()
              .auth.login.mutate({ email: caller.email, password: caller.password });
            caller.headers = { authorization: `Bearer ${login.tokens.accessToken}` };
          }
        }
      }
      expect(problems).toEqual([]);
      expect(sentCount).toBeGreaterThan(700);
      // The valid requests are valid: each operation succeeded for someone (a reset needs the
      // token mailed to the user, which the walk does not have).
      const never = ordered
        .map(({ op }) => op.operationId.replace(/-/g, "."))
        .filter((name) => !succeeded.has(name) && name !== "auth.resetPassword");
      expect(never).toEqual([]);
    },
  );
});
