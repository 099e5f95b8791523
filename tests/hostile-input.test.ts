import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAgoraError } from "@agora/client";
import { createMarket, createProduct, subscriptionError } from "./support/marketplace.js";
import { expectError } from "./support/errors.js";
import { answerBeforeBodyEnds } from "./support/partial-body.js";
import { startCast, type Cast } from "./support/people.js";

// Input that no procedure can store or compare (NUL, unpaired surrogates, cursors beyond what
// the database holds, broken superjson envelopes) is the caller's BAD_REQUEST in our own
// words, changes nothing, and never reaches the database as a 500.
let cast: Cast;
let tokenOf: (i: 0 | 1) => string;
let marketId: string;
let productId: string;

beforeAll(async () => {
  cast = await startCast();
  tokenOf = (i) => cast.users[i].tokens.accessToken;
  const market = await createMarket(cast.users[0].api);
  marketId = market.id;
  productId = (await createProduct(cast.users[0].api, market.id)).id;
});
afterAll(async () => {
  await cast.ts.close();
});

interface Answer {
  status: number;
  body: {
    error?: {
      json: { message: string; data: { code: string; fieldErrors: Record<string, string[]> | null } };
    };
  };
}

async function call(
  kind: "query" | "mutation",
  path: string,
  payload: unknown,
  token?: string,
  raw?: string,
): Promise<Answer> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const body = raw ?? JSON.stringify(payload);
  const res =
    kind === "query"
      ? await fetch(`${cast.ts.url}/trpc/${path}?input=${encodeURIComponent(body)}`, { headers })
      : await fetch(`${cast.ts.url}/trpc/${path}`, { method: "POST", headers, body });
  return { status: res.status, body: (await res.json()) as Answer["body"] };
}

/** Row counts of every table a refused call could have touched. */
async function counts(): Promise<Record<string, number>> {
  const db = cast.ts.server.infra.database.prisma;
  return {
    users: await db.user.count(),
    markets: await db.market.count(),
    products: await db.product.count(),
    orders: await db.order.count(),
    posts: await db.post.count(),
  };
}

function expectBadRequest(answer: Answer, field?: string): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(400);
  expect(answer.body.error?.json.data.code).toBe("BAD_REQUEST");
  if (field)
    expect(answer.body.error?.json.data.fieldErrors?.[field], JSON.stringify(answer.body)).toBeDefined();
}

const NUL = "a\u0000b";
const LONE = ["\ud800", "x\udc00y", "\ud800\ud800"];

describe("text no procedure can store", () => {
  it("NUL in any string is BAD_REQUEST naming the field, for anonymous and signed-in callers alike", async () => {
    const before = await counts();
    const cases: [kind: "query" | "mutation", path: string, input: unknown, field: string, token?: string][] =
      [
        ["query", "users.byId", { id: NUL }, "id"],
        ["query", "markets.byId", { id: NUL }, "id"],
        ["query", "markets.list", { search: NUL }, "search"],
        ["query", "products.list", { marketId: NUL }, "marketId"],
        ["query", "posts.list", { authorId: NUL }, "authorId"],
        ["mutation", "auth.login", { email: "a@example.com", password: NUL }, "password"],
        ["mutation", "markets.create", { name: NUL }, "name", tokenOf(0)],
        ["mutation", "markets.create", { name: "ok", description: `x${NUL}` }, "description", tokenOf(0)],
        ["mutation", "markets.update", { id: marketId, data: { name: NUL } }, "data.name", tokenOf(0)],
        ["mutation", "posts.create", { title: "t", content: NUL }, "content", tokenOf(0)],
        [
          "mutation",
          "orders.create",
          { marketId, items: [{ productId, quantity: 1 }], idempotencyKey: NUL },
          "idempotencyKey",
          tokenOf(1),
        ],
        [
          "mutation",
          "orders.create",
          { marketId, items: [{ productId: NUL, quantity: 1 }] },
          "items.0.productId",
          tokenOf(1),
        ],
      ];
    for (const [kind, path, input, field, token] of cases) {
      expectBadRequest(await call(kind, path, { json: input }, token), field);
    }
    expect(await counts()).toEqual(before);
  });

  it("an unpaired surrogate is BAD_REQUEST and creates nothing", async () => {
    const before = await counts();
    for (const name of LONE) {
      const answer = await call("mutation", "auth.register", {
        json: {
          email: `lone${String(LONE.indexOf(name))}@example.com`,
          username: "lone_user",
          password: "Passw0rdGood",
          name,
        },
      });
      expectBadRequest(answer, "name");
      expect(answer.body.error?.json.data.fieldErrors?.name).toEqual([
        "Must be valid Unicode (unpaired surrogate)",
      ]);
      expectBadRequest(
        await call("mutation", "posts.create", { json: { title: name, content: "c" } }, tokenOf(0)),
        "title",
      );
    }
    // A well-formed pair (an emoji) is text like any other.
    const post = await cast.users[0].api.posts.create.mutate({ title: "😀", content: "c" });
    expect(post.title).toBe("😀");
    expect(await counts()).toEqual({ ...before, posts: (before.posts ?? 0) + 1 });
  });

  it("the same over REST (/api/v1): NUL in a query parameter is 400, in a path parameter never a 500", async () => {
    const res = await fetch(`${cast.ts.url}/api/v1/markets?search=a%00b`);
    expect(res.status).toBe(400);
    expect(
      ((await res.json()) as { data: { fieldErrors: Record<string, string[]> } }).data.fieldErrors,
    ).toEqual({
      search: ["Must not contain NUL characters"],
    });
    // Path parameters are percent-decoded, so the NUL reaches the check, which names the field.
    const inPath = await fetch(`${cast.ts.url}/api/v1/users/a%00b`);
    expect(inPath.status).toBe(400);
    expect(
      ((await inPath.json()) as { data: { fieldErrors: Record<string, string[]> } }).data.fieldErrors,
    ).toEqual({ id: ["Must not contain NUL characters"] });
    // A percent-encoding that decodes to nothing is a 400 too, not a 500.
    const malformed = await fetch(`${cast.ts.url}/api/v1/users/%E0%A4%A`);
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({
      message: "id: Malformed percent-encoding",
      data: { fieldErrors: { id: ["Malformed percent-encoding"] } },
    });
  });

  it("a subscription to a market id with NUL or a lone surrogate is refused with BAD_REQUEST", async () => {
    for (const bad of [NUL, "\ud800"]) {
      const error = await subscriptionError(cast.ts, { marketId: bad });
      expect(isAgoraError(error) ? error.data?.code : error).toBe("BAD_REQUEST");
    }
  });
});

describe("cursors", () => {
  const cursor = (values: (string | number)[]) => Buffer.from(JSON.stringify(values)).toString("base64url");
  const farDates = ["+275760-09-13T00:00:00.000Z", "0000-01-01T00:00:00.000Z", "-000001-01-01T00:00:00.000Z"];

  it("a cursor holding a date or number no row can have is BAD_REQUEST on every list", async () => {
    const lists: [path: string, input: Record<string, unknown>, tag: string, token?: string][] = [
      ["markets.list", {}, "markets:createdAt:desc"],
      ["markets.list", { order: "asc" }, "markets:createdAt:asc"],
      ["products.list", { marketId }, "products"],
      ["posts.list", {}, "posts"],
      ["orders.listMine", {}, "orders:mine", tokenOf(1)],
      ["orders.listForMarket", { marketId }, "orders:market", tokenOf(0)],
    ];
    for (const [path, input, tag, token] of lists) {
      for (const date of farDates) {
        const answer = await call(
          "query",
          path,
          { json: { ...input, cursor: cursor([tag, date, "x"]) } },
          token,
        );
        expectBadRequest(answer, "cursor");
      }
      // Text the database cannot take, hidden inside the cursor's base64.
      expectBadRequest(
        await call(
          "query",
          path,
          { json: { ...input, cursor: cursor([tag, farDates[0] ?? "", NUL]) } },
          token,
        ),
        "cursor",
      );
    }
    for (const volume of ["99999999999999999999", "9223372036854775808", "-1", "1e3"]) {
      const answer = await call("query", "markets.list", {
        json: { sort: "volume", cursor: cursor(["markets:volume:desc", volume, "x"]) },
      });
      expectBadRequest(answer, "cursor");
    }
    expectBadRequest(
      await call("query", "markets.list", {
        json: { sort: "name", cursor: cursor(["markets:name:desc", NUL, "x"]) },
      }),
      "cursor",
    );
    // The largest bigint is a valid (if empty-ended) position.
    const ok = await call("query", "markets.list", {
      json: { sort: "volume", cursor: cursor(["markets:volume:desc", "9223372036854775807", "x"]) },
    });
    expect(ok.status).toBe(200);
  });

  it("users.list (admin) refuses the same", async () => {
    const adminToken = (
      await cast.ts.client().auth.login.mutate({ email: "admin@agora.test", password: "AdminPassw0rd" })
    ).tokens.accessToken;
    for (const date of farDates) {
      expectBadRequest(
        await call("query", "users.list", { json: { cursor: cursor(["users", date, "x"]) } }, adminToken),
        "cursor",
      );
    }
  });
});

describe("malformed envelopes", () => {
  const engineText =
    /Maximum call stack|Cannot read properties|reading '|Unexpected token|in JSON at position|Expected property/;

  it("a superjson meta that cannot be decoded is BAD_REQUEST in our words", async () => {
    for (const body of [
      { json: {}, meta: { values: "x" } },
      { json: {}, meta: { values: { name: ["regexp"] } } },
      { json: { a: 1 }, meta: { values: { a: ["custom", "nope"] } } },
      { json: { a: 1 }, meta: { referentialEqualities: { a: ["b.c"] } } },
    ]) {
      const answer = await call("mutation", "auth.login", undefined, undefined, JSON.stringify(body));
      expectBadRequest(answer);
      expect(answer.body.error?.json.message).not.toMatch(engineText);
    }
  });

  it("a body or input that is not JSON is BAD_REQUEST in our words, on queries and mutations", async () => {
    for (const [kind, raw] of [
      ["mutation", '{"json":{'],
      ["query", '{"json":'],
      ["mutation", "[".repeat(100_000)],
    ] as const) {
      const answer = await call(
        kind,
        kind === "query" ? "markets.list" : "auth.login",
        undefined,
        undefined,
        raw,
      );
      expect(answer.status).toBe(400);
      expect(answer.body.error?.json.message).not.toMatch(engineText);
    }
  });

  it("referentialEqualities cannot make the input a cycle or a shared graph (it held the process until out of memory)", async () => {
    // `a.self` becomes `a` itself: every walk of the input followed it forever.
    const cyclic = {
      json: { id: "no-such-user", a: {} },
      meta: { referentialEqualities: { a: ["a.self"] } },
    };
    const started = Date.now();
    const answer = await call("query", "users.byId", undefined, undefined, JSON.stringify(cyclic));
    expect(answer.status, JSON.stringify(answer.body)).toBe(404);
    // 2^40 paths through 40 shared pairs.
    const json: Record<string, number[]> = {};
    const identities: Record<string, string[]> = {};
    for (let i = 0; i < 40; i += 1) json[`k${String(i)}`] = [0, 0];
    for (let i = 0; i < 39; i += 1)
      identities[`k${String(i)}`] = [`k${String(i + 1)}.0`, `k${String(i + 1)}.1`];
    const before = await counts();
    const shared = await call(
      "mutation",
      "markets.create",
      undefined,
      tokenOf(0),
      JSON.stringify({ json: { ...json, name: "\u0000" }, meta: { referentialEqualities: identities } }),
    );
    expectBadRequest(shared, "name");
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await counts()).toEqual(before);
  });

  // (superjson reported them as field names, which its own serialiser then refused. A
  // `__proto__` property never reaches the procedure: it is dropped while decoding.)
  it("a property named prototype or constructor holding unstorable text is BAD_REQUEST, not a 500", async () => {
    for (const key of ["prototype", "constructor"]) {
      const raw = `{"json":{"${key}":"a\\u0000b"}}`;
      for (const [kind, path, token] of [
        ["query", "posts.list", undefined],
        ["mutation", "markets.create", tokenOf(0)],
      ] as const) {
        const answer = await call(kind, path, undefined, token, raw);
        expectBadRequest(answer, "_");
        expect(answer.body.error?.json.message).toBe(`_: ${key}: Must not contain NUL characters`);
      }
    }
  });

  it("an API key expiring after the year 9999 (which PostgreSQL cannot store) is BAD_REQUEST, not a 500", async () => {
    const admin = cast.admin;
    const expiresAt = new Date(Date.UTC(10000, 0, 1));
    const before = await admin.apiKeys.list.query();
    await expectError(admin.apiKeys.create.mutate({ name: "far future", expiresAt }), "BAD_REQUEST");
    expect(await admin.apiKeys.list.query()).toEqual(before);
  });

  it("deep nesting is refused without exhausting the stack", async () => {
    const depth = 20_000;
    const deep = `{"json":{"name":${'{"a":'.repeat(depth)}"leaf"${"}".repeat(depth)}}}`;
    const answer = await call("mutation", "markets.create", undefined, tokenOf(0), deep);
    expectBadRequest(answer);
    expect(answer.body.error?.json.message).not.toMatch(engineText);
  });
});

describe("nesting depth", () => {
  const tooDeep = /nested deeper than 64/;
  /** `{"json":{"email":[[…"x"…]],"password":"Passw0rdGood"}}`, nested `depth` levels in all. */
  const loginNested = (depth: number) =>
    `{"json":{"email":${"[".repeat(depth - 2)}"x"${"]".repeat(depth - 2)},"password":"Passw0rdGood"}}`;

  it("input nested deeper than 64 levels is BAD_REQUEST in our words; 64 levels reach validation", async () => {
    const atBound = await call("mutation", "auth.login", undefined, undefined, loginNested(64));
    expectBadRequest(atBound, "email");
    const over = await call("mutation", "auth.login", undefined, undefined, loginNested(65));
    expectBadRequest(over);
    expect(over.body.error?.json.message).toMatch(tooDeep);
    expect(over.body.error?.json.data.fieldErrors).toBeNull();
    // A query's input, and a megabyte of brackets.
    const query = await call("query", "markets.list", undefined, undefined, `{"json":${"[".repeat(3000)}}`);
    expectBadRequest(query);
    expect(query.body.error?.json.message).toMatch(tooDeep);
    const megabyte = await call(
      "mutation",
      "auth.login",
      undefined,
      undefined,
      "[".repeat(500_000) + "]".repeat(500_000),
    );
    expectBadRequest(megabyte);
    expect(megabyte.body.error?.json.message).toMatch(tooDeep);
  });

  it("the same where /trpc hands the call to tRPC's own adapter (streamed answers, subscriptions)", async () => {
    const res = await fetch(`${cast.ts.url}/trpc/auth.login?batch=1`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "trpc-accept": "application/jsonl",
        "x-request-id": "deep-1",
      },
      body: `{"0":${"[".repeat(500_000)}${"]".repeat(500_000)}}`,
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as {
      error: { json: { message: string; data: { code: string; requestId: string } } };
    };
    expect(body.error.json.message).toMatch(tooDeep);
    expect(body.error.json.data).toMatchObject({ code: "BAD_REQUEST", requestId: "deep-1" });
    const subscription = await fetch(`${cast.ts.url}/trpc/markets.onEvent?input=${"[".repeat(3000)}`, {
      headers: { accept: "text/event-stream" },
    });
    expect(subscription.status).toBe(400);
    expect(
      ((await subscription.json()) as { error: { json: { message: string } } }).error.json.message,
    ).toMatch(tooDeep);
  });

  it("a body nested too deep is refused before the rest of it arrives (never parsed)", async () => {
    const prefix = `{"json":${"[".repeat(100_000)}`;
    for (const [path, headers] of [
      ["/trpc/auth.login", {}],
      ["/trpc/auth.login?batch=1", { "trpc-accept": "application/jsonl" }],
    ] as const) {
      const answer = await answerBeforeBodyEnds(
        `${cast.ts.url}${path}`,
        { "content-type": "application/json", ...headers },
        prefix,
        1_000_000,
      );
      expect(answer.status, path).toBe(400);
      expect(answer.body, path).toMatch(tooDeep);
    }
  });

  it("a 50-call batch of superjson envelopes stays well within the bound", async () => {
    const inputs = Object.fromEntries(
      Array.from({ length: 50 }, (_, i) => [
        String(i),
        {
          json: { marketId: "m", items: [{ productId: "p", quantity: 1 }], at: new Date(0).toISOString() },
          meta: { values: { at: ["Date"] } },
        },
      ]),
    );
    const res = await fetch(
      `${cast.ts.url}/trpc/${Array.from({ length: 50 }, () => "health.live").join(",")}?batch=1&input=${encodeURIComponent(JSON.stringify(inputs))}`,
    );
    expect(res.status).toBe(200);
  });
});
