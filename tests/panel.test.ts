import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRouter } from "@agora/server/router";
import { loadConfig } from "@agora/server/testing";
import { startTestServer, TEST_JWT_SECRET, type TestServer } from "./support/server.js";

interface PanelProcedure {
  path: string;
  type: string;
  input: { type?: string; properties?: Record<string, Record<string, unknown>>; required?: string[] } | null;
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
