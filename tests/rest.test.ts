import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { answerBeforeBodyEnds } from "./support/partial-body.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { newUserInput } from "./support/people.js";

let ts: TestServer;
beforeAll(async () => {
  ts = await startTestServer();
});
afterAll(async () => {
  await ts.close();
});

interface RestResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

/** One call to /api/v1, JSON in and out. */
async function rest(
  method: string,
  path: string,
  options: { token?: string; apiKey?: string; body?: unknown; url?: string } = {},
): Promise<RestResponse> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers["content-type"] = "application/json";
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.apiKey) headers["x-api-key"] = options.apiKey;
  const res = await fetch(`${options.url ?? ts.url}/api/v1${path}`, {
    method,
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as unknown) : null };
}

interface ErrorBody {
  code: string;
  message: string;
  data: {
    httpStatus: number;
    requestId: string | null;
    fieldErrors: Record<string, string[]> | null;
    stock?: { productId: string; available: number; requested: number } | null;
  };
}

async function registered(): Promise<{ token: string; id: string; email: string; password: string }> {
  const input = newUserInput();
  const res = await rest("POST", "/auth/register", { body: input });
  expect(res.status).toBe(200);
  const body = res.body as { user: { id: string }; tokens: { accessToken: string } };
  return { token: body.tokens.accessToken, id: body.user.id, email: input.email, password: input.password };
}

describe("OpenAPI document", () => {
  it("is a valid OpenAPI 3.1 document listing every REST operation", async () => {
    const res = await fetch(`${ts.url}/api/openapi.json`);
    expect(res.status).toBe(200);
    const document = (await res.json()) as {
      openapi: string;
      servers: { url: string }[];
      paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
    };
    const validator = new Validator();
    const result = await validator.validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    expect(document.servers).toEqual([{ url: "/api/v1" }]);

    const operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]) => ({ id: `${method.toUpperCase()} ${path}`, op })),
    );
    expect(operations.map((o) => o.id).sort()).toEqual(
      [
        "POST /auth/register",
        "POST /auth/login",
        "POST /auth/refresh",
        "POST /auth/logout",
        "GET /users/me",
        "GET /users/{id}",
        "GET /health",
        "GET /markets",
        "POST /markets",
        "GET /markets/{id}",
        "PATCH /markets/{id}",
        "DELETE /markets/{id}",
        "GET /markets/{marketId}/products",
        "POST /markets/{marketId}/products",
        "GET /products/{id}",
        "PATCH /products/{id}",
        "DELETE /products/{id}",
        "POST /orders",
        "GET /orders",
        "GET /orders/{id}",
        "POST /orders/{id}/cancel",
        "GET /markets/{marketId}/orders",
        "GET /posts",
        "POST /posts",
        "GET /posts/{id}",
        "PATCH /posts/{id}",
        "DELETE /posts/{id}",
        "POST /auth/logout-all",
        "POST /auth/change-password",
        "POST /auth/request-password-reset",
        "POST /auth/reset-password",
        "POST /auth/subscription-ticket",
        "GET /users",
        "PATCH /users/me",
        "PATCH /users/{id}",
        "PUT /users/{id}/role",
        "DELETE /users/{id}",
        "POST /api-keys",
        "GET /api-keys",
        "POST /api-keys/{id}/revoke",
        "GET /health/ready",
        "GET /jobs/stats",
      ].sort(),
    );
    // Every operation documents the rate limit and an unavailable database.
    for (const { op } of operations)
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["429", "503"]));
  });

  it("documents every status an operation answers: without credentials, with a bad token, with a bad API key", async () => {
    const document = (await (await fetch(`${ts.url}/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown[] }>>;
    };
    const callers: Record<string, { token?: string; apiKey?: string }> = {
      anonymous: {},
      "bad token": { token: "not-a-token" },
      "bad API key": { apiKey: "agora_not-a-key" },
    };
    const undocumented: string[] = [];
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, op] of Object.entries(item)) {
        // A well-formed id that names nothing; an empty body (invalid for most writes).
        const concrete = path.replace(/\{[^}]+\}/g, "cm0nothing0here0000000000");
        for (const [caller, credentials] of Object.entries(callers)) {
          const res = await rest(method.toUpperCase(), concrete, {
            ...credentials,
            ...(method === "get" ? {} : { body: {} }),
          });
          if (!(String(res.status) in op.responses))
            undocumented.push(`${method.toUpperCase()} ${path} (${caller}): ${String(res.status)}`);
        }
      }
    }
    expect(undocumented).toEqual([]);
    // The public reads take credentials without requiring them, and say both.
    const publicRead = document.paths["/markets/{id}"]?.get;
    expect(publicRead?.security).toEqual([{}, { bearerAuth: [] }, { apiKey: [] }]);
    expect(Object.keys(publicRead?.responses ?? {})).toContain("401");
    // Signing in never reads credentials (security: []), and answers 401 for a wrong password.
    expect(document.paths["/auth/login"]?.post?.security).toEqual([]);
    expect(Object.keys(document.paths["/auth/login"]?.post?.responses ?? {})).toContain("401");
  });
});

describe("REST /api/v1", () => {
  it("serves a whole marketplace flow with the same services as /trpc", async () => {
    const seller = await registered();
    const buyer = await registered();

    const market = await rest("POST", "/markets", {
      token: seller.token,
      body: { name: "REST market", status: "ACTIVE" },
    });
    expect(market.status).toBe(200);
    const marketId = (market.body as { id: string }).id;
    expect(market.body).toMatchObject({ name: "REST market", status: "ACTIVE", owner: { id: seller.id } });

    const product = await rest("POST", `/markets/${marketId}/products`, {
      token: seller.token,
      body: { name: "Lamp", priceCents: 1250, stock: 3 },
    });
    expect(product.status).toBe(200);
    const productId = (product.body as { id: string }).id;

    const listed = await rest(
      "GET",
      `/markets?limit=5&status=ACTIVE&search=${encodeURIComponent("REST market")}`,
    );
    expect(listed.status).toBe(200);
    expect((listed.body as { items: { id: string }[] }).items.map((m) => m.id)).toContain(marketId);

    const order = await rest("POST", "/orders", {
      token: buyer.token,
      body: { marketId, items: [{ productId, quantity: 2 }] },
    });
    expect(order.status).toBe(200);
    const orderBody = order.body as { id: string; totalCents: number; status: string; createdAt: string };
    expect(orderBody).toMatchObject({ totalCents: 2500, status: "CONFIRMED", userId: buyer.id });
    // Too much of it now: a CONFLICT whose data names the short line, as on /trpc.
    const short = await rest("POST", "/orders", {
      token: buyer.token,
      body: { marketId, items: [{ productId, quantity: 5 }] },
    });
    expect(short.status).toBe(409);
    expect((short.body as ErrorBody).data.stock).toEqual({ productId, available: 1, requested: 5 });
    expect(new Date(orderBody.createdAt).toISOString()).toBe(orderBody.createdAt);

    // The same order through tRPC: one backend behind both surfaces.
    const viaTrpc = await ts.client({ token: buyer.token }).orders.byId.query({ id: orderBody.id });
    expect(viaTrpc.totalCents).toBe(2500);
    const readBack = await rest("GET", `/orders/${orderBody.id}`, { token: buyer.token });
    expect(readBack.body).toEqual(orderBody);
    expect((await rest("GET", `/products/${productId}`)).body).toMatchObject({ stock: 1 });

    // The operation has no body (its input is its path): a client sends none, and no Content-Type.
    const cancelled = await rest("POST", `/orders/${orderBody.id}/cancel`, { token: buyer.token });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: "CANCELLED" });
    expect((await rest("GET", `/products/${productId}`)).body).toMatchObject({ stock: 3 });

    const renamed = await rest("PATCH", `/markets/${marketId}`, {
      token: seller.token,
      body: { data: { name: "Renamed" } },
    });
    expect(renamed.body).toMatchObject({ id: marketId, name: "Renamed", status: "ACTIVE" });
    expect((await rest("GET", "/users/me", { token: seller.token })).body).toMatchObject({
      id: seller.id,
      email: seller.email,
    });
  });

  it("signs in, rotates the refresh token and logs out", async () => {
    const user = await registered();
    const login = await rest("POST", "/auth/login", { body: { email: user.email, password: user.password } });
    expect(login.status).toBe(200);
    const tokens = (login.body as { tokens: { refreshToken: string; accessToken: string } }).tokens;
    const refreshed = await rest("POST", "/auth/refresh", { body: { refreshToken: tokens.refreshToken } });
    expect(refreshed.status).toBe(200);
    const next = refreshed.body as { refreshToken: string; accessToken: string };
    expect(next.refreshToken).not.toBe(tokens.refreshToken);
    const out = await rest("POST", "/auth/logout", {
      token: next.accessToken,
      body: { refreshToken: next.refreshToken },
    });
    expect(out.body).toEqual({ success: true });
    const reused = await rest("POST", "/auth/refresh", { body: { refreshToken: next.refreshToken } });
    expect(reused.status).toBe(401);
  });

  it("answers invalid input with 400 and the field errors, and changes nothing", async () => {
    const input = newUserInput({ email: "not-an-email" });
    const res = await rest("POST", "/auth/register", { body: { ...input, password: "short" } });
    expect(res.status).toBe(400);
    const body = res.body as ErrorBody;
    expect(body.code).toBe("BAD_REQUEST");
    expect(Object.keys(body.data.fieldErrors ?? {}).sort()).toEqual(["email", "password"]);
    expect(body.data.requestId).toBe(res.headers.get("x-request-id"));
    const login = await rest("POST", "/auth/login", {
      body: { email: "not-an-email", password: input.password },
    });
    expect(login.status).toBe(400);
  });

  it("answers 401, 403, 404 and 409 with the tRPC codes", async () => {
    const owner = await registered();
    const other = await registered();
    const create = async (status: string) =>
      (
        (await rest("POST", "/markets", { token: owner.token, body: { name: "Mine", status } })).body as {
          id: string;
        }
      ).id;
    const marketId = await create("ACTIVE");
    const draftId = await create("DRAFT");

    const anonymous = await rest("GET", "/users/me");
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toMatchObject({ code: "UNAUTHORIZED", message: "Authentication required" });
    const badToken = await rest("POST", "/markets", { token: "not-a-jwt", body: { name: "x" } });
    expect(badToken.status).toBe(401);

    const forbidden = await rest("PATCH", `/markets/${marketId}`, {
      token: other.token,
      body: { data: { name: "x" } },
    });
    expect(forbidden.status).toBe(403);
    expect((forbidden.body as ErrorBody).code).toBe("FORBIDDEN");

    // A DRAFT market is hidden from everyone but its owner and admins.
    expect((await rest("GET", `/markets/${draftId}`, { token: other.token })).status).toBe(404);
    expect((await rest("GET", `/markets/${draftId}`)).status).toBe(404);
    expect((await rest("GET", `/markets/${draftId}`, { token: owner.token })).status).toBe(200);
    expect((await rest("GET", "/markets/does-not-exist")).body).toMatchObject({ code: "NOT_FOUND" });

    const duplicate = await rest("POST", "/auth/register", {
      body: newUserInput({ email: owner.email }),
    });
    expect(duplicate.status).toBe(409);
    expect((duplicate.body as ErrorBody).code).toBe("CONFLICT");
  });

  it("answers 500 with the request id only, never the cause", async () => {
    const spy = vi
      .spyOn(ts.server.services.markets, "byId")
      .mockRejectedValueOnce(new Error("secret connection string postgres://u:p@db"));
    try {
      const res = await rest("GET", "/markets/any");
      expect(res.status).toBe(500);
      const body = res.body as ErrorBody;
      expect(body.message).toBe("Internal server error");
      expect(body.data.requestId).toBe(res.headers.get("x-request-id"));
      expect(JSON.stringify(body)).not.toMatch(/secret|postgres|stack/i);
    } finally {
      spy.mockRestore();
    }
    // A failure before any procedure runs (the rate limiter's store): the same shape.
    const limiter = vi
      .spyOn(ts.server.services.rateLimits.global, "consume")
      .mockRejectedValueOnce(new Error("secret limiter failure"));
    try {
      const res = await rest("GET", "/health");
      expect(res.status).toBe(500);
      expect(res.body).toMatchObject({
        code: "INTERNAL_SERVER_ERROR",
        message: "Internal server error",
        data: { httpStatus: 500, requestId: res.headers.get("x-request-id") },
      });
      expect(JSON.stringify(res.body)).not.toMatch(/secret/);
    } finally {
      limiter.mockRestore();
    }
  });

  it("refuses a body it cannot take in the documented error shape, in fixed words, with the request id", async () => {
    const json = { "content-type": "application/json" };
    const cases: [
      label: string,
      body: string,
      headers: Record<string, string>,
      status: number,
      code: string,
      message: RegExp,
    ][] = [
      ["malformed JSON", "{not json", json, 400, "BAD_REQUEST", /^The request body is not valid JSON$/],
      ["truncated JSON", '{"email":', json, 400, "BAD_REQUEST", /^The request body is not valid JSON$/],
      ["an array", "[1]", json, 400, "BAD_REQUEST", /^The request body must be a JSON object$/],
      ["a number", "42", json, 400, "BAD_REQUEST", /^The request body must be a JSON object$/],
      ["a string", '"x"', json, 400, "BAD_REQUEST", /^The request body must be a JSON object$/],
      ["null", "null", json, 400, "BAD_REQUEST", /^The request body must be a JSON object$/],
      [
        "nested 1 MB deep",
        "[".repeat(500_000) + "]".repeat(500_000),
        json,
        400,
        "BAD_REQUEST",
        /nested deeper than 64/,
      ],
      [
        "over 1 MiB",
        JSON.stringify({ email: "x".repeat(1_100_000) }),
        json,
        413,
        "PAYLOAD_TOO_LARGE",
        /^The request body is larger than 1 MiB$/,
      ],
      [
        "text/plain",
        "{}",
        { "content-type": "text/plain" },
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        /^The request body must be JSON \(Content-Type: application\/json\)$/,
      ],
      [
        "no content type",
        "{}",
        {},
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        /^The request body must be JSON \(Content-Type: application\/json\)$/,
      ],
    ];
    for (const [label, body, headers, status, code, message] of cases) {
      const res = await fetch(`${ts.url}/api/v1/auth/login`, { method: "POST", headers, body });
      const text = await res.text();
      expect(res.status, label).toBe(status);
      expect(text, label).not.toMatch(
        /Unexpected token|at position|entity|Unsupported content-type|Maximum call stack|"\{not json/,
      );
      const answer = JSON.parse(text) as ErrorBody;
      expect(answer, label).toMatchObject({
        code,
        data: { code, httpStatus: status, requestId: res.headers.get("x-request-id") },
      });
      expect(answer.message, label).toMatch(message);
    }
    const unknown = await rest("GET", "/nothing-here");
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({
      code: "NOT_FOUND",
      data: { httpStatus: 404, requestId: unknown.headers.get("x-request-id") },
    });
    const charset = await fetch(`${ts.url}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8" },
      body: JSON.stringify({ email: "nobody@example.com", password: "Passw0rdX" }),
    });
    expect(charset.status).toBe(401);
  });

  it("answers /trpc's transport refusals in the same shape, with the request id and fixed words", async () => {
    const cases: [label: string, init: RequestInit, status: number, code: string, message: RegExp][] = [
      [
        "no content type",
        { method: "POST" },
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        /^The request body must be JSON \(Content-Type: application\/json\)$/,
      ],
      [
        "text/plain",
        { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" },
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        /^The request body must be JSON \(Content-Type: application\/json\)$/,
      ],
      [
        "over 1 MiB",
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ json: { x: "x".repeat(1_100_000) } }),
        },
        413,
        "PAYLOAD_TOO_LARGE",
        /^The request body is larger than 1 MiB$/,
      ],
      [
        "malformed JSON",
        { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" },
        400,
        "BAD_REQUEST",
        /^Malformed request/,
      ],
    ];
    for (const [label, init, status, code, message] of cases) {
      const res = await fetch(`${ts.url}/trpc/auth.logoutAll`, init);
      const text = await res.text();
      expect(res.status, label).toBe(status);
      expect(text, label).not.toMatch(/Unexpected token|Unsupported content-type|Missing content-type/);
      const body = JSON.parse(text) as { error: { json: ErrorBody } };
      expect(body.error.json.message, label).toMatch(message);
      expect(body.error.json.data, label).toMatchObject({
        code,
        httpStatus: status,
        requestId: res.headers.get("x-request-id"),
      });
    }
  });

  it("needs no Content-Type when a request has no body: an absent body is an empty input", async () => {
    const user = await registered();
    const res = await fetch(`${ts.url}/api/v1/markets`, {
      method: "POST",
      headers: { authorization: `Bearer ${user.token}` },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).data.fieldErrors).toHaveProperty("name");
    const out = await fetch(`${ts.url}/api/v1/auth/logout-all`, {
      method: "POST",
      headers: { authorization: `Bearer ${user.token}` },
    });
    expect(out.status).toBe(200);
    expect(await out.json()).toEqual({ success: true });
  });

  it("takes API keys, with the same rules as /trpc", async () => {
    const admin = await ts
      .client()
      .auth.login.mutate({ email: "admin@agora.test", password: "AdminPassw0rd" });
    const key = await ts.client({ token: admin.tokens.accessToken }).apiKeys.create.mutate({ name: "rest" });
    const created = await rest("POST", "/posts", { apiKey: key.key, body: { title: "t", content: "c" } });
    // posts.create needs a user account, not an API key.
    expect(created.status).toBe(403);
    const listed = await rest("GET", "/orders?limit=1", { apiKey: key.key });
    expect(listed.status).toBe(403);
    const health = await rest("GET", "/health", { apiKey: key.key });
    expect(health.body).toEqual({ status: "ok" });
  });
});

describe("REST rate limits", () => {
  it("answers 429 with Retry-After once the limit is spent", async () => {
    const limited = await startTestServer({ RATE_LIMIT_ENABLED: "true", RATE_LIMIT_LOGIN_MAX: "2" });
    try {
      const attempt = () =>
        rest("POST", "/auth/login", {
          url: limited.url,
          body: { email: "someone@example.com", password: "WrongPassw0rd" },
        });
      expect((await attempt()).status).toBe(401);
      expect((await attempt()).status).toBe(401);
      const third = await attempt();
      expect(third.status).toBe(429);
      expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0);
      expect((third.body as ErrorBody).code).toBe("TOO_MANY_REQUESTS");
    } finally {
      await limited.close();
    }
  });
});

describe("REST limits before bodies", () => {
  it("counts each call before reading its body: deep bodies are limited too, and refused unread once the limit is spent", async () => {
    const limited = await startTestServer({ RATE_LIMIT_ENABLED: "true", RATE_LIMIT_MAX: "3" });
    try {
      // Counted once per call, not once before the body and again in the procedure.
      expect((await rest("GET", "/health", { url: limited.url })).status).toBe(200);
      expect((await rest("GET", "/health", { url: limited.url })).status).toBe(200);
      const deep = await fetch(`${limited.url}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "[".repeat(500_000) + "]".repeat(500_000),
      });
      expect(deep.status).toBe(400);
      const refused = await answerBeforeBodyEnds(
        `${limited.url}/api/v1/auth/login`,
        { "content-type": "application/json" },
        "[".repeat(100_000),
        1_000_000,
      );
      expect(refused.status).toBe(429);
      expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
      expect(JSON.parse(refused.body)).toMatchObject({
        code: "TOO_MANY_REQUESTS",
        data: { httpStatus: 429 },
      });
    } finally {
      await limited.close();
    }
  });
});

describe("rendered docs", () => {
  it("serves Swagger UI from this server only", async () => {
    const res = await fetch(`${ts.url}/docs`);
    expect(res.status).toBe(200);
    const html = await res.text();
    // What the page loads (scripts, styles, icons), as against the links to the other pages.
    const assets = [...html.matchAll(/<(?:script|link)\b[^>]*?(?:src|href)="([^"]+)"/g)].map(
      (m) => m[1] ?? "",
    );
    expect(assets.length).toBeGreaterThanOrEqual(3);
    for (const asset of assets) {
      expect(asset).toMatch(/^\/docs\/assets\//);
      expect((await fetch(`${ts.url}${asset}`)).status).toBe(200);
    }
    const links = [...html.matchAll(/<a\b[^>]*?href="([^"]+)"/g)].map((m) => m[1] ?? "");
    expect(links).toEqual(["/", "/panel", "/api/openapi.json"]);
    const init = await (await fetch(`${ts.url}/docs/assets/docs.js`)).text();
    expect(init).toContain('url: "/api/openapi.json"');
    expect(init).toContain("validatorUrl: null");
    // A pasted credential is not kept in localStorage (tests/browser.test.ts checks it in Chromium).
    expect(init).toContain("persistAuthorization: false");
  });
});
