import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRouter } from "@agora/server/router";
import { loadConfig } from "@agora/server/testing";
import { startTestServer, TEST_JWT_SECRET, type TestServer } from "./support/server.js";

interface JsonSchema {
  type?: string;
  description?: string;
  deprecated?: boolean;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  [key: string]: unknown;
}
interface PanelProcedure {
  path: string;
  type: string;
  summary: string | null;
  access: string;
  input: JsonSchema | null;
  output: JsonSchema | null;
  rest: { method: string; path: string } | null;
}

/** Every named field of a schema, nested objects and array items included, with its path. */
function fields(schema: JsonSchema, at = ""): { path: string; schema: JsonSchema }[] {
  const out: { path: string; schema: JsonSchema }[] = [];
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const childPath = at ? `${at}.${key}` : key;
    out.push({ path: childPath, schema: child });
    const inner = child.anyOf?.find((b) => b.type !== "null") ?? child;
    out.push(...fields(inner, childPath));
    if (inner.items) out.push(...fields(inner.items, `${childPath}[]`));
  }
  return out;
}

let ts: TestServer;
beforeAll(async () => {
  ts = await startTestServer();
});
afterAll(async () => {
  await ts.close();
});

async function procedures(): Promise<PanelProcedure[]> {
  const res = await fetch(`${ts.url}/panel/procedures.json`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { procedures: PanelProcedure[] }).procedures;
}

describe("panel", () => {
  it("lists every procedure of the live router with its kind", async () => {
    const listed = await procedures();
    const live = Object.keys(appRouter._def.procedures).sort();
    expect(listed.map((p) => p.path).sort()).toEqual(live);
    expect(live.length).toBeGreaterThanOrEqual(40);
    const kinds = Object.fromEntries(listed.map((p) => [p.path, p.type]));
    expect(kinds).toMatchObject({
      "markets.list": "query",
      "orders.create": "mutation",
      "markets.onEvent": "subscription",
    });
  });

  it("describes inputs from the zod schemas: nested objects, arrays, enums, optionals, dates", async () => {
    const byPath = new Map((await procedures()).map((p) => [p.path, p]));
    const order = byPath.get("orders.create")?.input;
    expect(order?.required).toEqual(["marketId", "items"]);
    expect(order?.properties?.items).toMatchObject({
      type: "array",
      minItems: 1,
      maxItems: 50,
      items: {
        type: "object",
        required: ["productId", "quantity"],
        properties: { quantity: { type: "integer" } },
      },
    });
    expect(byPath.get("markets.create")?.input?.properties?.status).toMatchObject({
      enum: ["DRAFT", "ACTIVE"],
    });
    expect(byPath.get("markets.update")?.input?.properties?.data).toMatchObject({ type: "object" });
    expect(byPath.get("apiKeys.create")?.input?.properties?.expiresAt).toMatchObject({
      format: "date-time",
      "x-superjson": "Date",
    });
    expect(byPath.get("users.me")?.input).toBeNull();
  });

  it("has a summary for every procedure and a description for every input field", async () => {
    const listed = await procedures();
    expect(listed.filter((p) => !p.summary || p.summary === "null").map((p) => p.path)).toEqual([]);
    const undescribed = listed.flatMap((p) =>
      p.input
        ? fields(p.input)
            .filter((f) => !f.schema.description)
            .map((f) => `${p.path} ${f.path}`)
        : [],
    );
    expect(undescribed).toEqual([]);
    const byPath = new Map(listed.map((p) => [p.path, p]));
    expect(
      byPath.get("orders.create")?.input?.properties?.items?.items?.properties?.quantity?.description,
    ).toMatch(/1 to 1000/);
  });

  it("says who may call each procedure, from meta.access as the builders set it", async () => {
    const who = Object.fromEntries((await procedures()).map((p) => [p.path, p.access]));
    expect(who).toMatchObject({
      "auth.login": "anonymous",
      "markets.list": "public",
      "markets.update": "signed-in",
      "users.me": "user",
      "users.list": "admin",
      "apiKeys.create": "admin",
    });
    for (const [procedurePath, access] of Object.entries(who)) {
      const meta = (
        appRouter._def.procedures as unknown as Record<string, { _def: { meta?: { access?: string } } }>
      )[procedurePath]?._def.meta;
      expect(access, procedurePath).toBe(meta?.access);
    }
    const res = await fetch(`${ts.url}/panel/procedures.json`);
    const { access } = (await res.json()) as { access: Record<string, string> };
    expect(Object.keys(access).sort()).toEqual(["admin", "anonymous", "public", "signed-in", "user"]);
  });

  it("shows each procedure's output schema, a subscription's as one event", async () => {
    const byPath = new Map((await procedures()).map((p) => [p.path, p]));
    const market = byPath.get("markets.byId")?.output;
    expect(market?.required).toEqual(expect.arrayContaining(["id", "name", "volumeCents", "owner"]));
    expect(market?.properties?.createdAt).toMatchObject({ format: "date-time", "x-superjson": "Date" });
    expect(market?.properties?.volumeCents?.description).toMatch(/total of confirmed orders/);
    expect(byPath.get("markets.list")?.output?.properties?.items).toMatchObject({ type: "array" });
    const event = byPath.get("markets.onEvent")?.output;
    const placed = (event?.oneOf ?? event?.anyOf)?.find(
      (branch) => branch.properties?.type?.const === "order.placed",
    );
    expect(placed?.properties?.marketVolumeCents?.description).toMatch(
      /market's new total.*not the order's amount/,
    );
    // Its first name stays for existing clients, marked deprecated.
    expect(placed?.properties?.volumeCents?.deprecated).toBe(true);
    expect(placed?.properties?.volumeCents?.description).toMatch(/^Deprecated: use marketVolumeCents/);
    expect(byPath.get("markets.list")?.rest).toEqual({ method: "GET", path: "/api/v1/markets" });
    expect(byPath.get("auth.logoutAll")?.output).toMatchObject({ properties: { success: { const: true } } });
  });

  it("serves its page, script and superjson from this server", async () => {
    const html = await (await fetch(`${ts.url}/panel`)).text();
    expect(html).not.toMatch(/https?:\/\//);
    for (const asset of [
      "/panel/assets/panel.js",
      "/panel/assets/panel.css",
      "/panel/vendor/superjson/index.js",
      "/panel/vendor/copy-anything/index.js",
    ]) {
      const res = await fetch(`${ts.url}${asset}`);
      expect(res.status, asset).toBe(200);
      expect(await res.text()).not.toMatch(/<script src="https?:|@import url\(https?:/);
    }
  });

  it("is on outside production, off in production unless PANEL_ENABLED=true", async () => {
    const production = { NODE_ENV: "production", JWT_SECRET: TEST_JWT_SECRET };
    expect(loadConfig({}).panelEnabled).toBe(true);
    expect(loadConfig(production).panelEnabled).toBe(false);
    expect(loadConfig({ ...production, PANEL_ENABLED: "true" }).panelEnabled).toBe(true);
    const off = await startTestServer({ PANEL_ENABLED: "false" });
    try {
      expect((await fetch(`${off.url}/panel`)).status).toBe(404);
      expect((await fetch(`${off.url}/panel/procedures.json`)).status).toBe(404);
    } finally {
      await off.close();
    }
  });
});

describe("the landing page and the favicon", () => {
  it("GET / links the panel, the REST docs, the OpenAPI document, health and the SDK guide, each of which answers", async () => {
    const res = await fetch(`${ts.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
    const html = await res.text();
    expect(html).not.toMatch(/https?:\/\//);
    const links = [...html.matchAll(/<a href="([^"]+)">/g)].map((m) => m[1]);
    expect(links).toEqual(["/panel", "/docs", "/api/openapi.json", "/healthz", "/sdk"]);
    for (const link of links) expect((await fetch(`${ts.url}${link ?? ""}`)).status, link).toBe(200);
    expect(await (await fetch(`${ts.url}/sdk`)).text()).toMatch(/^# @agora\/client/m);
    // The panel links back to it and to the REST docs.
    const panel = await (await fetch(`${ts.url}/panel`)).text();
    expect(panel).toContain('href="/"');
    expect(panel).toContain('href="/docs"');
  });

  it("lists only what the configuration serves", async () => {
    const bare = await startTestServer({ PANEL_ENABLED: "false", DOCS_ENABLED: "false" });
    try {
      const html = await (await fetch(`${bare.url}/`)).text();
      expect([...html.matchAll(/<a href="([^"]+)">/g)].map((m) => m[1])).toEqual(["/healthz", "/sdk"]);
    } finally {
      await bare.close();
    }
  });

  it("answers /favicon.ico", async () => {
    const res = await fetch(`${ts.url}/favicon.ico`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^image\/svg\+xml/);
    expect(await res.text()).toMatch(/^<svg/);
  });
});
