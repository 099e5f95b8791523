import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, createLogger } from "@agora/server/testing";
import { createMarket } from "./support/marketplace.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { registerUser, type UserSession } from "./support/people.js";

/**
 * The fast /trpc handler (server/src/http/trpc-fast/) must answer exactly as tRPC's own express
 * adapter does. Both are mounted over the same services; every request goes to both and the
 * answers are compared: status, the headers clients read, and the body.
 */
let ts: TestServer;
let official: Server;
let officialUrl: string;
let alice: UserSession;
let marketId: string;

beforeAll(async () => {
  ts = await startTestServer();
  const { config, log } = ts.server.infra;
  official = createServer(
    createApp({ config, log, services: ts.server.services }, { trpcAdapter: "official" }),
  );
  await new Promise<void>((resolve) => official.listen(0, "127.0.0.1", resolve));
  officialUrl = `http://127.0.0.1:${String((official.address() as AddressInfo).port)}`;
  alice = await registerUser(ts);
  marketId = (await createMarket(alice.api, { name: "Compared" })).id;
});
afterAll(async () => {
  await new Promise((resolve) => official.close(resolve));
  await ts.close();
});

/** An array `depth` levels deep. */
const nested = (depth: number): unknown => (depth === 0 ? "bottom" : [nested(depth - 1)]);
const enc = (value: unknown) => encodeURIComponent(JSON.stringify(value));
const q = (input: unknown) => `input=${enc({ json: input })}`;

interface Sent {
  method?: "GET" | "POST" | "PUT" | "HEAD";
  path: string;
  body?: string;
  headers?: Record<string, string>;
  auth?: boolean;
}

async function send(base: string, request: Sent) {
  const res = await fetch(`${base}/trpc/${request.path}`, {
    method: request.method ?? "GET",
    headers: {
      "x-request-id": "compare-1",
      ...(request.body !== undefined ? { "content-type": "application/json" } : {}),
      ...(request.auth ? { authorization: `Bearer ${alice.tokens.accessToken}` } : {}),
      ...request.headers,
    },
    ...(request.body !== undefined ? { body: request.body } : {}),
  });
  const text = await res.text();
  return {
    status: res.status,
    contentType: res.headers.get("content-type"),
    allow: res.headers.get("allow"),
    vary: res.headers.get("vary"),
    body: text.length > 0 ? (JSON.parse(text) as unknown) : null,
  };
}

const cases: [string, Sent][] = [
  ["a query without input", { path: "health.live" }],
  ["a query returning Dates (superjson meta)", { path: "markets.byId?__ID__" }],
  ["NOT_FOUND from a service", { path: `markets.byId?${q({ id: "missing" })}` }],
  ["invalid input (field errors)", { path: `markets.byId?${q({ id: "" })}` }],
  ["malformed JSON input", { path: "markets.byId?input=%7Bnot-json" }],
  ["no input where one is required", { path: "markets.byId" }],
  ["an unknown procedure", { path: "markets.nope" }],
  ["a query sent as POST", { method: "POST", path: "health.live", body: "{}" }],
  ["a mutation sent as GET", { path: `users.updateMe?${q({ name: "x" })}`, auth: true }],
  ["an authenticated query", { path: "users.me", auth: true }],
  ["UNAUTHORIZED", { path: "users.me" }],
  ["a bad token", { path: "users.me", headers: { authorization: "Bearer nope" } }],
  [
    "a batch of queries, one failing (207)",
    {
      path: `users.byId,users.byId,health.live?batch=1&input=${enc({ 0: { json: { id: "missing" } }, 1: { json: { id: "__USER__" } } })}`,
    },
  ],
  [
    "a batch of queries, all fine",
    { path: `health.live,markets.byId?batch=1&input=${enc({ 1: { json: { id: "__MARKET__" } } })}` },
  ],
  ["a batch whose input is not an object", { path: `health.live,health.live?batch=1&input=${enc([1])}` }],
  ["a batch with an unknown procedure", { path: `health.live,nope.nope?batch=1` }],
  ["a mixed batch of a query and a mutation", { path: `health.live,users.updateMe?batch=1`, auth: true }],
  [
    "a mutation",
    {
      method: "POST",
      path: "users.updateMe",
      body: JSON.stringify({ json: { name: "Same Name" } }),
      auth: true,
    },
  ],
  [
    "a mutation without credentials",
    { method: "POST", path: "users.updateMe", body: JSON.stringify({ json: {} }) },
  ],
  [
    "a mutation with invalid input",
    { method: "POST", path: "users.updateMe", body: JSON.stringify({ json: { username: "!" } }), auth: true },
  ],
  ["a mutation with a malformed body", { method: "POST", path: "users.updateMe", body: "{oops", auth: true }],
  ["a mutation with an empty body", { method: "POST", path: "auth.login", body: "" }],
  [
    "a batch of mutations",
    {
      method: "POST",
      path: "users.updateMe,users.updateMe?batch=1",
      body: JSON.stringify({ 0: { json: { name: "Same Name" } }, 1: { json: { username: "?" } } }),
      auth: true,
    },
  ],
  ["an over-long batch", { path: `${Array.from({ length: 51 }, () => "health.live").join(",")}?batch=1` }],
  ["a bad percent-encoding", { path: "health%E0%A4%A.live" }],
  ["a subscription batched with a query", { path: "health.live,markets.onEvent?batch=1" }],
  ["another method", { method: "PUT", path: "health.live", body: "{}" }],
  ["a query's input nested too deeply", { path: `users.me?${q(nested(80))}` }],
  [
    "a mutation's input nested too deeply",
    { method: "POST", path: "users.updateMe", body: JSON.stringify({ json: nested(80) }) },
  ],
];

describe("the fast /trpc handler answers like tRPC's express adapter", () => {
  it.each(cases)("%s", async (_name, request) => {
    const fill = (s: string) =>
      s
        .replace("__ID__", q({ id: marketId }))
        .replaceAll("__MARKET__", marketId)
        .replaceAll("__USER__", alice.user.id);
    const resolved = { ...request, path: fill(request.path) };
    const [fast, reference] = await Promise.all([send(ts.url, resolved), send(officialUrl, resolved)]);
    expect(fast).toEqual(reference);
  });

  it("masks an internal error the same way", async () => {
    const { prisma } = ts.server.infra.database;
    await prisma.$executeRawUnsafe("ALTER TABLE posts RENAME TO posts_hidden");
    try {
      const request = { path: `posts.list?${q({})}` };
      const [fast, reference] = await Promise.all([send(ts.url, request), send(officialUrl, request)]);
      expect(fast.status).toBe(500);
      expect(fast).toEqual(reference);
    } finally {
      await prisma.$executeRawUnsafe("ALTER TABLE posts_hidden RENAME TO posts");
    }
  });
});

describe("TRPC_ADAPTER=official, the operator's switch", () => {
  it("serves every /trpc call with tRPC's adapter and says so at start", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const other = await startTestServer({ TRPC_ADAPTER: "official" }, { log: createLogger("warn", sink) });
    try {
      expect(lines.join("")).toContain("TRPC_ADAPTER=official: tRPC's own adapter answers every /trpc call");
      const res = await fetch(`${other.url}/trpc/markets.byId?${q({ id: marketId })}`);
      // Another database: the market is not there, and tRPC's adapter says so in its own shape.
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: { json: { data: { code: "NOT_FOUND" } } } });
    } finally {
      await other.close();
    }
  });
});
