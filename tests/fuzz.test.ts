// Property-based fuzzing of every procedure of the live router, over plain HTTP (/trpc: GET with
// ?input= for queries and subscriptions, POST JSON for mutations), with fast-check.
//
// Each procedure has a generator of valid inputs (a known-good input whose fields vary within
// the schema's rules) which a hostile layer may corrupt: values replaced or added at random
// paths (wrong types, huge strings, deep nesting, __proto__ keys, NUL and lone surrogates, SQL
// and HTML metacharacters, numbers at and past their bounds, malformed cursors and ids), or a
// broken superjson envelope. Every answer must come within 2 s, below 500, as JSON in tRPC's
// envelope, without engine text or a stack trace; a refused mutation must leave every table it
// could touch as it was; an accepted create or update must return what was sent (after the
// schema's normalisation) and read back the same.
//
// Every FUZZ_COMPARE_EVERY-th query (default 5) is also sent to a second app over the same
// services that serves /trpc with tRPC's own adapter only (TRPC_ADAPTER=official): status, every
// header and the body must be the same as the fast path's (server/src/http/trpc-fast/).
//
// FUZZ_RUNS (default 10,000, over all procedures) and FUZZ_SEED (printed at the start) scale
// and reproduce a run; `pnpm fuzz` runs this file with 100,000 cases.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import superjson from "superjson";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { appRouter } from "@agora/server/router";
import { createApp } from "@agora/server/testing";
import { createMarket, createProduct } from "./support/marketplace.js";
import * as people from "./support/people.js";
import { activeMarketWithProduct, type UserSession } from "./support/people.js";
import { ADMIN, startTestServer, type TestServer } from "./support/server.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
const COMPARE_EVERY = Number(process.env.FUZZ_COMPARE_EVERY ?? 5);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
const SLOW_MS = 2000;
/** Node refuses request heads over 16 KiB (431) before any handler runs: queries stay below. */
const MAX_URL = 15_000;
const ENGINE_TEXT =
  /Maximum call stack|Cannot read properties|is not a function|Unexpected token|in JSON at position|prisma|Invalid `/i;
const STACK_TRACE = /\n\s+at |\bat [\w.<>]+ \(.*:\d+:\d+\)|"stack"/;

type Json = unknown;
type Kind = "query" | "mutation" | "subscription";
/** Who calls: nobody, the fixtures' owner, another user, the admin, or a person made for the case. */
type CallerKind = "anon" | "owner" | "other" | "admin" | "fresh";
const CALLERS: readonly CallerKind[] = ["anon", "owner", "other", "admin", "fresh"];

// ---------------------------------------------------------------------------------------------
// Fixtures

let ts: TestServer;
let admin: UserSession;
let owner: UserSession;
let other: UserSession;
/** The user users.update changes. */
let target: UserSession;
/** Mailed password-reset tokens not used yet. */
const resetTokens: string[] = [];
let fx: Record<string, string>;

beforeAll(async () => {
  console.log(`fuzz: FUZZ_SEED=${String(SEED)} FUZZ_RUNS=${String(RUNS)}`);
  // The callers sign in once; `pnpm fuzz` runs longer than the default 15-minute access token.
  ts = await startTestServer({ RATE_LIMIT_ENABLED: "false", ACCESS_TOKEN_TTL_SECONDS: "86400" });
  admin = await people.signIn(ts, ADMIN.email, ADMIN.password);
  [owner, other, target] = [
    await people.registerUser(ts),
    await people.registerUser(ts),
    await people.registerUser(ts),
  ];
  const active = await activeMarketWithProduct(owner);
  await owner.api.products.update.mutate({ id: active.productId, data: { stock: 1_000_000 } });
  const second = await createProduct(owner.api, active.marketId, { stock: 1_000_000 });
  const draft = await createMarket(owner.api, { status: "DRAFT" });
  const otherMarket = await activeMarketWithProduct(other);
  await other.api.products.update.mutate({ id: otherMarket.productId, data: { stock: 1_000_000 } });
  const order = await other.api.orders.create.mutate({
    marketId: active.marketId,
    items: [{ productId: active.productId, quantity: 1 }],
  });
  const post = await owner.api.posts.create.mutate({
    title: "Fuzz",
    content: "Body",
    marketId: active.marketId,
  });
  const hidden = await owner.api.posts.create.mutate({ title: "Hidden", content: "Body", published: false });
  fx = {
    owner: owner.user.id,
    other: other.user.id,
    target: target.user.id,
    ownerEmail: owner.input.email,
    ownerPassword: owner.input.password,
    activeMarket: active.marketId,
    draftMarket: draft.id,
    activeProduct: active.productId,
    secondProduct: second.id,
    otherMarket: otherMarket.marketId,
    otherProduct: otherMarket.productId,
    order: order.id,
    post: post.id,
    hiddenPost: hidden.id,
  };
  // Reset tokens come by mail from a background job: ask for a few at once.
  const asked = await Promise.all(
    Array.from({ length: 8 }, async () => {
      const person = await people.registerUser(ts);
      const before = ts.mailer.sent.length;
      await ts.client().auth.requestPasswordReset.mutate({ email: person.input.email });
      return { person, before };
    }),
  );
  for (const { person, before } of asked) {
    const mail = await ts.waitForMail(person.input.email, Math.max(0, before - 8));
    const token = /Reset token: (\S+)/.exec(mail.text)?.[1];
    if (token) resetTokens.push(token);
  }
}, 120_000);

let official: Server;
let officialUrl: string;

beforeAll(async () => {
  const { config, log } = ts.server.infra;
  official = createServer(
    createApp({ config, log, services: ts.server.services }, { trpcAdapter: "official" }),
  );
  await new Promise<void>((resolve) => official.listen(0, "127.0.0.1", resolve));
  officialUrl = `http://127.0.0.1:${String((official.address() as AddressInfo).port)}`;
});

afterAll(async () => {
  await new Promise((resolve) => official.close(resolve));
  await ts.close();
});

/** Headers that differ between any two answers, whoever sends them. */
const PER_ANSWER_HEADERS = new Set(["date", "connection", "keep-alive", "server-timing"]);
/**
 * compression's threshold: the fast path writes a body in one piece, so one smaller than this
 * goes out as it is; tRPC's adapter writes it in pieces, so compression cannot know its size
 * and gzips it whatever it is. The one documented difference (http/trpc-fast/README.md).
 */
const GZIP_THRESHOLD = 1024;

/** A query sent to the fast path and to tRPC's adapter alone: the answers must be the same. */
async function compareAdapters(path: string, body: string | null, token: string | null): Promise<void> {
  const suffix = `/trpc/${path}${body === null ? "" : `?input=${queryEncode(body)}`}`;
  const headers: Record<string, string> = { "x-request-id": `fuzz-compare-${String(compared.count)}` };
  if (token) headers.authorization = `Bearer ${token}`;
  const read = async (base: string) => {
    const res = await fetch(`${base}${suffix}`, { headers, signal: AbortSignal.timeout(10_000) });
    const kept: [string, string][] = [];
    res.headers.forEach((value, name) => {
      if (!PER_ANSWER_HEADERS.has(name)) kept.push([name, value]);
    });
    const text = await res.text();
    const answered = Object.fromEntries(kept);
    if (Buffer.byteLength(text) < GZIP_THRESHOLD) Reflect.deleteProperty(answered, "content-encoding");
    return { status: res.status, headers: answered, body: text };
  };
  const [fast, reference] = [await read(ts.url), await read(officialUrl)];
  expect(fast, `${path}: the fast path and tRPC's adapter answer differently`).toEqual(reference);
  compared.count += 1;
}
const compared = { count: 0 };

// ---------------------------------------------------------------------------------------------
// Placeholders: inputs name fixtures ("@fx:activeMarket") and objects made for the case
// ("@fresh:market"), so a counterexample prints readably and each case acts on its own object.

let unique = 0;

async function freshObject(what: string, caller: UserSession | null): Promise<string> {
  made += 1;
  switch (what) {
    case "market":
      return (await createMarket(owner.api, { status: "ACTIVE" })).id;
    case "product":
      return (await createProduct(owner.api, fx.activeMarket ?? "")).id;
    case "post":
      return (
        await owner.api.posts.create.mutate({ title: "Fresh", content: "Body", marketId: fx.activeMarket })
      ).id;
    case "order":
      return (
        await owner.api.orders.create.mutate({
          marketId: fx.otherMarket ?? "",
          items: [{ productId: fx.otherProduct ?? "", quantity: 1 }],
        })
      ).id;
    case "apiKey":
      return (await admin.api.apiKeys.create.mutate({ name: "fuzz" })).id;
    case "user":
      return (await people.registerUser(ts)).user.id;
    case "refreshToken":
      // A new session of the caller (or of the owner, for callers that are no person).
      return (await people.signIn(ts, (caller ?? owner).input.email, (caller ?? owner).input.password)).tokens
        .refreshToken;
    case "resetToken":
      return resetTokens.pop() ?? "no-reset-token-left";
    default:
      throw new Error(`unknown fresh object ${what}`);
  }
}

async function resolveString(value: string, caller: UserSession | null): Promise<string> {
  if (value.startsWith("@fx:")) {
    const id = fx[value.slice(4)];
    if (id === undefined) throw new Error(`unknown fixture ${value}`);
    return id;
  }
  if (value.startsWith("@fresh:")) return freshObject(value.slice(7), caller);
  if (value === "@caller:password") return (caller ?? owner).input.password;
  if (value.includes("{u}"))
    return value.replaceAll("{u}", `${Date.now().toString(36)}${String((unique += 1))}`);
  return value;
}

/** A copy of `value` with placeholders resolved (own properties kept, `__proto__` included). */
async function resolve(value: unknown, caller: UserSession | null, depth = 0): Promise<unknown> {
  if (depth > 20) return value;
  if (typeof value === "string") return resolveString(value, caller);
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const item of value) out.push(await resolve(item, caller, depth + 1));
    return out;
  }
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) setOwn(out, key, await resolve(value[key], caller, depth + 1));
    return out;
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Sets an own, enumerable property, even `__proto__`. */
function setOwn(object: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}

// ---------------------------------------------------------------------------------------------
// Valid inputs

const alnum = (min: number, max: number) =>
  fc.string({
    unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".split("")),
    minLength: min,
    maxLength: max,
  });
/** Text within [min, max] characters that survives the schema's trim (and so its min). */
const text = (min: number, max: number) =>
  fc
    .oneof(
      { weight: 6, arbitrary: fc.string({ unit: "grapheme", minLength: min, maxLength: Math.min(max, 40) }) },
      { weight: 1, arbitrary: fc.constant("x".repeat(max)) },
      { weight: 1, arbitrary: alnum(min, Math.min(max, 20)).map((s) => `  ${s}\t`) },
      {
        weight: 1,
        arbitrary: fc.constantFrom("' OR 1=1 --", "<script>alert(1)</script>", "100%_\\", "Ünïcödé 😀"),
      },
    )
    .filter((s) => s.trim().length >= min && s.trim().length <= max && s.length <= max + 4);
const trimmed = (min: number, max: number) => text(min, max).filter((s) => s.length <= max);
const password = fc
  .tuple(alnum(0, 20), fc.constantFrom("A", "Ü"), fc.constantFrom("b", "é"), fc.integer({ min: 0, max: 9 }))
  .map(([s, up, low, digit]) => `${up}${low}${String(digit)}${s}xyzw`);
const email = fc
  .tuple(
    fc.constantFrom("", "  "),
    fc.constantFrom("user_{u}", "User.{u}", "A+{u}"),
    fc.constantFrom("example.com", "Example.ORG"),
  )
  .map(([pad, local, domain]) => `${pad}${local}@${domain}${pad}`);
const username = fc.constantFrom("u_{u}", "U{u}", "fuzz_{u}_x");
const limit = fc.integer({ min: 1, max: 100 });
const dateText = fc
  .date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2100-01-01T00:00:00Z"), noInvalidDate: true })
  .map((d) => d.toISOString());
const cursorOf = (tag: fc.Arbitrary<string>, value: fc.Arbitrary<string> = dateText) =>
  fc.tuple(tag, value, alnum(1, 25)).map((parts) => Buffer.from(JSON.stringify(parts)).toString("base64url"));
const page = (tag: fc.Arbitrary<string>) => fc.record({ limit, cursor: cursorOf(tag) }, { requiredKeys: [] });
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

/** Drops keys whose value is undefined (fc.record with optional keys already omits them). */
function compact<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

interface Spec {
  kind: Kind;
  /** A known-good input, varied within the schema; undefined for procedures without input. */
  valid: fc.Arbitrary<Json>;
  /** Callers for whom the valid input succeeds; others are tried too, less often. */
  callers: readonly CallerKind[];
  /** For an accepted create or update: the output matches what was sent and reads back the same. */
  /** The call ends its caller's sessions or changes their password: callers are people made for the case. */
  endsSessions?: boolean;
  roundTrip?: (
    sent: Record<string, unknown>,
    out: Record<string, unknown>,
    call: CallContext,
  ) => Promise<void>;
}

interface CallContext {
  token: string | null;
  /** The caller's role before the call. */
  role: "USER" | "ADMIN" | null;
}

const none = fc.constant(undefined);
const marketData = fc.record(
  {
    name: trimmed(1, 200),
    description: fc.option(fc.string({ maxLength: 60 }), { nil: null }),
    status: fc.constantFrom("DRAFT", "ACTIVE", "CLOSED"),
  },
  { requiredKeys: [] },
);
const productData = fc.record(
  {
    name: trimmed(1, 200),
    description: fc.option(fc.string({ maxLength: 60 }), { nil: null }),
    priceCents: fc.oneof(fc.integer({ min: 0, max: 1_000_000_000 }), fc.constantFrom(0, 1_000_000_000)),
    stock: fc.oneof(fc.integer({ min: 0, max: 1_000_000 }), fc.constantFrom(0, 1_000_000)),
  },
  { requiredKeys: [] },
);
const postData = fc.record(
  {
    title: trimmed(1, 200),
    content: fc.oneof(fc.string({ minLength: 1, maxLength: 60 }), fc.constant("c".repeat(20_000))),
    published: fc.boolean(),
  },
  { requiredKeys: [] },
);

/** What the schemas do to text before storing it. */
const trim = (v: unknown) => (typeof v === "string" ? v.trim() : v);
const lower = (v: unknown) => (typeof v === "string" ? v.trim().toLowerCase() : v);

/** Expected fields of an output, from the fields of `sent` the schema knows (normalised). */
function expectedFrom(
  sent: Record<string, unknown>,
  rules: Record<string, (v: unknown) => unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, rule] of Object.entries(rules)) {
    if (Object.prototype.hasOwnProperty.call(sent, key) && sent[key] !== undefined)
      out[key] = rule(sent[key]);
  }
  // -0 is stored as 0: compare as JSON does.
  return JSON.parse(JSON.stringify(out)) as Record<string, unknown>;
}

const same = (v: unknown) => v;
const asRecord = (v: unknown): Record<string, unknown> => (isPlainObject(v) ? v : {});

/** Reads an object back through a query, as `token`'s caller; its JSON. */
async function readBack(path: string, input: unknown, token: string | null): Promise<unknown> {
  const answer = await send("query", path, { json: input }, token);
  expect(answer.status, `${path} read-back: ${answer.text.slice(0, 300)}`).toBe(200);
  return (answer.body as { result: { data: { json: unknown } } }).result.data.json;
}

/**
 * The answer holds what was sent (as `rules` store it; `defaults` for fields left out), and
 * reading the object back gives the same answer. `dataKey`: the fields sent are under it.
 */
function matchesAndReadsBack(
  byId: string,
  rules: Record<string, (v: unknown) => unknown>,
  { dataKey, defaults = {} }: { dataKey?: string; defaults?: Record<string, unknown> } = {},
) {
  return async (sent: Record<string, unknown>, out: Record<string, unknown>, call: CallContext) => {
    const fields = dataKey ? asRecord(sent[dataKey]) : sent;
    expect(out).toMatchObject({ ...defaults, ...expectedFrom(fields, rules) });
    expect(await readBack(byId, { id: out.id }, call.token)).toEqual(out);
  };
}

const marketRules = { name: trim, description: same, status: same };
const productRules = { name: trim, description: same, priceCents: same, stock: same, marketId: same };
const postRules = { title: trim, content: same, published: same, marketId: same };
const userRules = { name: trim, username: same, email: lower };

const SPECS: Record<string, Spec> = {
  "auth.register": {
    kind: "mutation",
    valid: fc.record({ email, username, password, name: optional(trimmed(1, 100)) }).map(compact),
    callers: ["anon"],
    roundTrip: async (sent, out) => {
      const user = asRecord(out.user);
      expect(user).toMatchObject({ ...expectedFrom(sent, userRules), role: "USER" });
      expect(await readBack("users.byId", { id: user.id }, admin.tokens.accessToken)).toEqual(user);
    },
  },
  "auth.login": {
    kind: "mutation",
    valid: fc.record({
      email: fc.constantFrom("@fx:ownerEmail", "  @fx:ownerEmail"),
      password: fc.constantFrom("@fx:ownerPassword", "wrong-Passw0rd"),
    }),
    callers: ["anon"],
  },
  "auth.refresh": {
    kind: "mutation",
    valid: fc.constant({ refreshToken: "@fresh:refreshToken" }),
    callers: ["anon"],
  },
  "auth.logout": {
    kind: "mutation",
    valid: fc.constant({ refreshToken: "@fresh:refreshToken" }),
    callers: ["owner", "other"],
  },
  "auth.logoutAll": { kind: "mutation", valid: none, callers: ["fresh"], endsSessions: true },
  "auth.subscriptionTicket": { kind: "mutation", valid: none, callers: ["owner", "other"] },
  "auth.changePassword": {
    kind: "mutation",
    valid: fc.record({ currentPassword: fc.constant("@caller:password"), newPassword: password }),
    callers: ["fresh"],
    endsSessions: true,
  },
  "auth.requestPasswordReset": {
    kind: "mutation",
    valid: fc.record({ email: fc.oneof(fc.constant("@fx:ownerEmail"), email) }),
    callers: ["anon"],
  },
  "auth.resetPassword": {
    kind: "mutation",
    valid: fc.record({ token: fc.constant("@fresh:resetToken"), newPassword: password }),
    callers: ["anon"],
  },
  "users.me": { kind: "query", valid: none, callers: ["owner", "other", "admin"] },
  "users.updateMe": {
    kind: "mutation",
    valid: fc.record({ name: fc.option(trimmed(1, 100), { nil: null }), username }, { requiredKeys: [] }),
    callers: ["other", "fresh"],
    roundTrip: async (sent, out, call) => {
      expect(out).toMatchObject({ ...expectedFrom(sent, userRules), role: call.role });
      expect(await readBack("users.me", undefined, call.token)).toEqual(out);
    },
  },
  "users.byId": {
    kind: "query",
    valid: fc.record({ id: fc.constantFrom("@fx:owner", "@fx:other", "no-such-user") }),
    callers: ["anon", "owner", "admin"],
  },
  "users.list": {
    kind: "query",
    valid: fc
      .tuple(page(fc.constant("users")), optional(fc.string({ maxLength: 100 })))
      .map(([p, search]) => compact({ ...p, search })),
    callers: ["admin"],
  },
  "users.update": {
    kind: "mutation",
    valid: fc.record({
      id: fc.constant("@fx:target"),
      data: fc.record(
        { name: fc.option(trimmed(1, 100), { nil: null }), username, email },
        { requiredKeys: [] },
      ),
    }),
    callers: ["admin"],
    roundTrip: async (sent, out, call) => {
      expect(out).toMatchObject(expectedFrom(asRecord(sent.data), userRules));
      expect(await readBack("users.byId", { id: out.id }, call.token)).toEqual(out);
    },
  },
  "users.setRole": {
    kind: "mutation",
    valid: fc.record({ id: fc.constant("@fresh:user"), role: fc.constantFrom("USER", "ADMIN") }),
    callers: ["admin"],
  },
  "users.delete": { kind: "mutation", valid: fc.constant({ id: "@fresh:user" }), callers: ["admin"] },
  "apiKeys.create": {
    kind: "mutation",
    valid: fc
      .record({
        name: trimmed(1, 100),
        role: optional(fc.constantFrom("USER", "ADMIN")),
        expiresAt: optional(
          fc.date({
            min: new Date(Date.now() + 3_600_000),
            max: new Date("2999-01-01"),
            noInvalidDate: true,
          }),
        ),
      })
      .map(compact),
    callers: ["admin"],
    roundTrip: async (sent, out, call) => {
      expect(out).toMatchObject(expectedFrom(sent, { name: trim }));
      const keys = (await readBack("apiKeys.list", undefined, call.token)) as Record<string, unknown>[];
      const listed = keys.find((k) => k.id === out.id);
      expect(listed).toMatchObject({ name: out.name, role: sent.role ?? "USER" });
    },
  },
  "apiKeys.list": { kind: "query", valid: none, callers: ["admin"] },
  "apiKeys.revoke": { kind: "mutation", valid: fc.constant({ id: "@fresh:apiKey" }), callers: ["admin"] },
  "health.live": { kind: "query", valid: none, callers: ["anon"] },
  "health.ready": { kind: "query", valid: none, callers: ["anon"] },
  "jobs.stats": { kind: "query", valid: none, callers: ["admin"] },
  "markets.list": {
    kind: "query",
    valid: fc
      .record({
        sort: fc.constantFrom("createdAt", "volume", "name"),
        order: fc.constantFrom("asc", "desc"),
        status: optional(fc.constantFrom("DRAFT", "ACTIVE", "CLOSED")),
        ownerId: optional(fc.constant("@fx:owner")),
        search: optional(trimmed(1, 200)),
        limit,
        value: fc.oneof(dateText, fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }).map(String), alnum(1, 20)),
        withCursor: fc.boolean(),
      })
      .chain((r) =>
        cursorOf(fc.constant(`markets:${r.sort}:${r.order}`), fc.constant(r.value)).map((cursor) => {
          const { value: _value, withCursor, ...rest } = r;
          return compact({ ...rest, cursor: withCursor ? cursor : undefined });
        }),
      ),
    callers: ["anon", "owner", "admin"],
  },
  "markets.byId": {
    kind: "query",
    valid: fc.record({ id: fc.constantFrom("@fx:activeMarket", "@fx:draftMarket") }),
    callers: ["anon", "owner", "admin"],
  },
  "markets.create": {
    kind: "mutation",
    valid: fc
      .record({
        name: trimmed(1, 200),
        description: optional(fc.option(fc.string({ maxLength: 60 }), { nil: null })),
        status: optional(fc.constantFrom("DRAFT", "ACTIVE")),
      })
      .map(compact),
    callers: ["owner", "other"],
    roundTrip: matchesAndReadsBack("markets.byId", marketRules, {
      defaults: { status: "DRAFT", description: null },
    }),
  },
  "markets.update": {
    kind: "mutation",
    valid: fc.record({ id: fc.constant("@fresh:market"), data: marketData }),
    callers: ["owner", "admin"],
    roundTrip: matchesAndReadsBack("markets.byId", marketRules, { dataKey: "data" }),
  },
  "markets.delete": {
    kind: "mutation",
    valid: fc.constant({ id: "@fresh:market" }),
    callers: ["owner", "admin"],
  },
  "markets.onEvent": {
    kind: "subscription",
    valid: fc
      .record({
        marketId: fc.constantFrom("@fx:activeMarket", "@fx:draftMarket"),
        lastEventId: optional(fc.option(alnum(1, 100), { nil: null })),
      })
      .map(compact),
    callers: ["anon", "owner", "admin"],
  },
  "products.list": {
    kind: "query",
    valid: fc
      .tuple(fc.constantFrom("@fx:activeMarket", "@fx:draftMarket"), page(fc.constant("products")))
      .map(([marketId, p]) => ({ marketId, ...p })),
    callers: ["anon", "owner", "admin"],
  },
  "products.byId": {
    kind: "query",
    valid: fc.record({ id: fc.constantFrom("@fx:activeProduct", "@fx:otherProduct") }),
    callers: ["anon", "owner"],
  },
  "products.create": {
    kind: "mutation",
    valid: fc
      .tuple(productData, fc.constant("@fx:activeMarket"))
      .map(([data, marketId]) => ({ name: "Product", priceCents: 1, stock: 1, ...data, marketId })),
    callers: ["owner", "admin"],
    roundTrip: matchesAndReadsBack("products.byId", productRules, { defaults: { description: null } }),
  },
  "products.update": {
    kind: "mutation",
    valid: fc.record({ id: fc.constant("@fresh:product"), data: productData }),
    callers: ["owner", "admin"],
    roundTrip: matchesAndReadsBack("products.byId", productRules, { dataKey: "data" }),
  },
  "products.delete": {
    kind: "mutation",
    valid: fc.constant({ id: "@fresh:product" }),
    callers: ["owner", "admin"],
  },
  "orders.create": {
    kind: "mutation",
    valid: fc
      .record({
        items: fc
          .subarray(["@fx:activeProduct", "@fx:secondProduct"], { minLength: 1 })
          .chain((ids) =>
            fc.tuple(
              ...ids.map((productId) =>
                fc.record({ productId: fc.constant(productId), quantity: fc.integer({ min: 1, max: 1000 }) }),
              ),
            ),
          ),
        idempotencyKey: optional(alnum(1, 20).map((k) => `${k}-{u}`)),
      })
      .map((r) => compact({ marketId: "@fx:activeMarket", ...r })),
    callers: ["other", "admin"],
    roundTrip: async (sent, out, call) => {
      const items = (Array.isArray(sent.items) ? sent.items : []).map(asRecord);
      expect(out).toMatchObject({ marketId: sent.marketId, status: "CONFIRMED" });
      const got = (Array.isArray(out.items) ? out.items : []).map(asRecord);
      expect(got.map((i) => [i.productId, i.quantity]).sort()).toEqual(
        items.map((i) => [i.productId, i.quantity]).sort(),
      );
      expect(await readBack("orders.byId", { id: out.id }, call.token)).toEqual(out);
    },
  },
  "orders.byId": {
    kind: "query",
    valid: fc.record({ id: fc.constant("@fx:order") }),
    callers: ["owner", "other", "admin"],
  },
  "orders.listMine": { kind: "query", valid: page(fc.constant("orders:mine")), callers: ["owner", "other"] },
  "orders.listForMarket": {
    kind: "query",
    valid: page(fc.constant("orders:market")).map((p) => ({ marketId: "@fx:activeMarket", ...p })),
    callers: ["owner", "admin"],
  },
  "orders.cancel": {
    kind: "mutation",
    valid: fc.constant({ id: "@fresh:order" }),
    callers: ["owner", "admin"],
  },
  "posts.list": {
    kind: "query",
    valid: fc
      .tuple(
        page(fc.constant("posts")),
        optional(fc.constant("@fx:activeMarket")),
        optional(fc.constantFrom("@fx:owner", "@fx:other")),
      )
      .map(([p, marketId, authorId]) => compact({ ...p, marketId, authorId })),
    callers: ["anon", "owner", "admin"],
  },
  "posts.byId": {
    kind: "query",
    valid: fc.record({ id: fc.constantFrom("@fx:post", "@fx:hiddenPost") }),
    callers: ["anon", "owner", "admin"],
  },
  "posts.create": {
    kind: "mutation",
    valid: fc
      .record({
        title: trimmed(1, 200),
        content: fc.string({ minLength: 1, maxLength: 60 }),
        marketId: optional(fc.constant("@fx:activeMarket")),
        published: optional(fc.boolean()),
      })
      .map(compact),
    callers: ["owner", "other"],
    roundTrip: async (sent, out, call) => {
      expect(out).toMatchObject({ published: true, marketId: null, ...expectedFrom(sent, postRules) });
      expect(await readBack("posts.byId", { id: out.id }, call.token)).toEqual(out);
    },
  },
  "posts.update": {
    kind: "mutation",
    valid: fc.record({ id: fc.constant("@fresh:post"), data: postData }),
    callers: ["owner", "admin"],
    roundTrip: matchesAndReadsBack("posts.byId", postRules, { dataKey: "data" }),
  },
  "posts.delete": {
    kind: "mutation",
    valid: fc.constant({ id: "@fresh:post" }),
    callers: ["owner", "admin"],
  },
};

// ---------------------------------------------------------------------------------------------
// Hostile inputs

interface Budget {
  /** Longest hostile string. */
  maxString: number;
  /** Deepest hostile nesting. */
  maxDepth: number;
}
/** Queries travel in the URL (under 16 KiB); mutation bodies may be up to 1 MiB. */
const QUERY_BUDGET: Budget = { maxString: 1500, maxDepth: 300 };
const MUTATION_BUDGET: Budget = { maxString: 200_000, maxDepth: 2000 };

const metachars = fc.constantFrom(
  "' OR 1=1 --",
  "'; DROP TABLE users; --",
  "<script>alert(1)</script>",
  "%",
  "_",
  "\\",
  "%_\\%",
  '"',
  "`${x}`",
  "{{7*7}}",
  "../../etc/passwd",
  "$where",
  " ",
  "",
);
const badText = fc.constantFrom(
  "\u0000",
  "a\u0000b",
  "\ud800",
  "x\udc00y",
  "\udfff\ud800",
  "😀".slice(0, 1),
  "\u0000\ud800",
);
const huge = (budget: Budget) =>
  fc
    .tuple(
      fc.integer({ min: 1000, max: budget.maxString }),
      fc.constantFrom("x", "' OR 1=1 --", "<script>", "é", "😀", "%_\\", " "),
    )
    .map(([n, unit]) => unit.repeat(Math.ceil(n / unit.length)).slice(0, n));
const numbers = fc.constantFrom(
  0,
  -0,
  -1,
  1,
  2,
  20,
  99,
  100,
  101,
  199,
  200,
  201,
  999,
  1000,
  1001,
  5000,
  5001,
  20_000,
  20_001,
  1_000_000,
  1_000_001,
  1_000_000_000,
  1_000_000_001,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 53 + 1,
  -(2 ** 53 + 1),
  1e308,
  -1e308,
  Number.MIN_VALUE,
  0.5,
  1.5,
  NaN,
  Infinity,
  -Infinity,
);
const farDates = fc.constantFrom(
  new Date(0),
  new Date(8.64e15),
  new Date(-8.64e15),
  new Date(Number.NaN),
  new Date("0001-01-01T00:00:00Z"),
  new Date("9999-12-31T23:59:59.999Z"),
  new Date(Date.UTC(10000, 0, 1)),
  new Date(Date.UTC(-1, 0, 1)),
);
const b64 = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
const cursors = fc.oneof(
  fc.uint8Array({ maxLength: 60 }).map((bytes) => Buffer.from(bytes).toString("base64url")),
  fc.string({ maxLength: 60 }).map(b64),
  fc.jsonValue({ maxDepth: 2 }).map(b64),
  fc
    .tuple(
      fc.constantFrom(
        "users",
        "products",
        "posts",
        "orders:mine",
        "orders:market",
        "markets:createdAt:desc",
        "markets:volume:asc",
        "markets:name:desc",
        "x",
      ),
      fc.array(
        fc.oneof(
          fc.constantFrom(
            "+275760-09-13T00:00:00.000Z",
            "-000001-01-01T00:00:00Z",
            "10000-01-01",
            "0000-01-01",
            "2024-02-30",
            "NaN",
            "9223372036854775808",
            "-1",
            "1e400",
            "0x10",
            "",
          ),
          dateText,
          fc.integer(),
          fc.double(),
          fc.constant(null),
          fc.boolean(),
          fc.constant([]),
          fc.constant({}),
          badText,
        ),
        { maxLength: 4 },
      ),
    )
    .map(([tag, rest]) => b64([tag, ...rest])),
  fc.constantFrom(
    "",
    "=",
    "====",
    "not base64!",
    "W10",
    "bnVsbA",
    b64("[]"),
    b64('["users"]'),
    b64("[1,2,3]"),
    "%00",
    "..",
    "a".repeat(501),
  ),
);
const ids = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    "0",
    "-1",
    "null",
    "undefined",
    "NaN",
    "no-such-id",
    "a".repeat(100),
    "a".repeat(101),
    "*",
    "%",
    "_",
  ),
  fc.uuid(),
  fc.string({ maxLength: 30 }),
);
const protoKeys = fc.constantFrom("__proto__", "constructor", "prototype");
const keys = fc.oneof(
  protoKeys,
  fc.constantFrom(
    "toString",
    "hasOwnProperty",
    "valueOf",
    "",
    " ",
    "a.b",
    "0",
    "json",
    "meta",
    "$ne",
    "id",
    "role",
    "isAdmin",
    "ownerId",
    "authorId",
    "userId",
    "status",
    "passwordHash",
    "volumeCents",
    "createdAt",
    "\u0000",
    "\ud800",
  ),
  alnum(1, 10),
);
function objectOf(entries: [string, unknown][]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) setOwn(out, k, v);
  return out;
}
const protoPayload = fc
  .tuple(
    protoKeys,
    fc.constantFrom<unknown>(
      { role: "ADMIN", isAdmin: true },
      { polluted: true },
      { prototype: { polluted: 1 } },
      "x",
      null,
    ),
  )
  .map(([k, v]) => objectOf([[k, v]]));
function nest(depth: number, shape: "object" | "array" | "mixed"): unknown {
  let value: unknown = "bottom";
  for (let i = 0; i < depth; i += 1) {
    const asArray = shape === "array" || (shape === "mixed" && i % 2 === 0);
    value = asArray ? [value] : { a: value };
  }
  return value;
}
const deep = (budget: Budget) =>
  fc
    .tuple(
      fc.integer({ min: 20, max: budget.maxDepth }),
      fc.constantFrom<"object" | "array" | "mixed">("object", "array", "mixed"),
    )
    .map(([d, s]) => nest(d, s));
const wrongType = fc.oneof(
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.integer(),
  fc.double(),
  fc.bigInt(),
  fc.constant([]),
  fc.constant({}),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.constantFrom<unknown>(new Map([["a", 1]]), new Set([1]), /re/g, new Date()),
  fc.jsonValue({ maxDepth: 3 }),
);
const hostileValue = (budget: Budget) =>
  fc.oneof(
    { weight: 4, arbitrary: wrongType },
    { weight: 1, arbitrary: huge(budget) },
    { weight: 1, arbitrary: deep(budget) },
    { weight: 2, arbitrary: protoPayload },
    { weight: 2, arbitrary: badText },
    { weight: 3, arbitrary: metachars },
    { weight: 3, arbitrary: numbers },
    { weight: 2, arbitrary: farDates },
    { weight: 3, arbitrary: cursors },
    { weight: 3, arbitrary: ids },
    { weight: 1, arbitrary: fc.tuple(metachars, alnum(0, 5)).map(([m, s]) => `${s}${m}${s}`) },
  );

type Path = (string | number)[];
/** How deep into an input the ops reach. */
const MAX_PATH = 6;
/** Every path into `value`'s arrays and objects, the root included. */
function pathsOf(value: unknown, path: Path = [], out: { path: Path; container: boolean }[] = []) {
  const container = Array.isArray(value) || isPlainObject(value);
  out.push({ path, container });
  if (path.length < MAX_PATH) {
    if (Array.isArray(value)) value.forEach((v, i) => pathsOf(v, [...path, i], out));
    else if (isPlainObject(value)) for (const k of Object.keys(value)) pathsOf(value[k], [...path, k], out);
  }
  return out;
}

type Op =
  | { op: "replace"; path: Path; value: unknown }
  | { op: "add"; path: Path; key: string; value: unknown }
  | { op: "remove"; path: Path };

/**
 * A copy of the containers an op can reach: paths go at most MAX_PATH deep, so below that
 * nothing is changed and may stay shared (hostile values nest 2,000 deep: copying all of it
 * recursively overflowed the stack).
 */
function clone(value: unknown, depth = MAX_PATH + 1): unknown {
  if (depth === 0) return value;
  if (Array.isArray(value)) return value.map((v) => clone(v, depth - 1));
  if (isPlainObject(value)) return objectOf(Object.keys(value).map((k) => [k, clone(value[k], depth - 1)]));
  return value;
}

function applyOps(input: unknown, ops: Op[]): unknown {
  let root = clone(input);
  for (const op of ops) {
    if (op.path.length === 0 && op.op !== "add") {
      root = op.op === "replace" ? clone(op.value) : undefined;
      continue;
    }
    let parent: unknown = root;
    const at = op.op === "add" ? op.path : op.path.slice(0, -1);
    for (const step of at)
      parent =
        Array.isArray(parent) || isPlainObject(parent)
          ? (parent as Record<string, unknown>)[step]
          : undefined;
    if (!(Array.isArray(parent) || isPlainObject(parent))) continue;
    const holder = parent as Record<string | number, unknown>;
    // Values are copied in: fast-check hands out the same objects again (constants, shrinking),
    // and a later op adding into a shared one would change it for every run after (in a
    // 100,000-case run that built a cycle, which JSON cannot send).
    if (op.op === "add") setOwn(holder, op.key, clone(op.value));
    else {
      const last = op.path[op.path.length - 1] ?? "";
      if (op.op === "replace") setOwn(holder, String(last), clone(op.value));
      // (A hole in an array: splice would trip over an own "constructor" property added before.)
      else Reflect.deleteProperty(holder, last);
    }
  }
  return root;
}

const hostileInput = (valid: fc.Arbitrary<Json>, budget: Budget) =>
  valid.chain((input) => {
    const paths = pathsOf(input);
    const containers = paths.filter((p) => p.container).map((p) => p.path);
    const op: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.record({
          op: fc.constant("replace" as const),
          path: fc.constantFrom<Path>(...paths.map((p) => p.path)),
          value: hostileValue(budget),
        }),
      },
      {
        weight: 3,
        arbitrary: fc.record({
          op: fc.constant("add" as const),
          path: containers.length > 0 ? fc.constantFrom<Path>(...containers) : fc.constant<Path>([]),
          key: keys,
          value: hostileValue(budget),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          op: fc.constant("remove" as const),
          path: fc.constantFrom<Path>(...paths.map((p) => p.path)),
        }),
      },
    );
    return fc.array(op, { minLength: 1, maxLength: 3 }).map((ops) => applyOps(input, ops));
  });

/** How the input is wrapped: tRPC's superjson envelope, a tampered one, or raw text. */
type Envelope =
  | { kind: "superjson" }
  | { kind: "meta"; meta: unknown }
  | { kind: "shape"; shape: "bare" | "metaOnly" | "array" | "extra" }
  | { kind: "raw"; text: string };

const annotation = fc.constantFrom<unknown>(
  ["Date"],
  ["number"],
  ["bigint"],
  ["undefined"],
  ["set"],
  ["map"],
  ["regexp"],
  ["Error"],
  ["URL"],
  ["symbol", "x"],
  ["class", "Foo"],
  ["custom", "x"],
  "Date",
  "number",
  "map",
  [["class", "X"], {}],
  [["map", {}]],
  42,
  null,
  [],
  {},
);
const metaPath = fc.constantFrom(
  "",
  "id",
  "name",
  "data",
  "data.name",
  "items",
  "items.0",
  "items.0.productId",
  "limit",
  "cursor",
  "__proto__",
  "__proto__.polluted",
  "constructor.prototype.polluted",
  "a.b.c",
  "json",
  "0",
  "a\\.b",
);
const metaValues = fc.oneof(
  fc.dictionary(metaPath, annotation, { maxKeys: 3 }).map((d) => objectOf(Object.entries(d))),
  fc.tuple(metaPath, annotation).map(([p, a]) => objectOf([[p, a]])),
  annotation,
  fc.jsonValue({ maxDepth: 3 }),
);
const tamperedMeta = fc.oneof(
  fc.record({ values: metaValues }, { requiredKeys: [] }),
  fc.record({
    referentialEqualities: fc.oneof(
      metaValues,
      fc
        .dictionary(metaPath, fc.array(metaPath, { maxLength: 3 }), { maxKeys: 3 })
        .map((d) => objectOf(Object.entries(d))),
    ),
  }),
  fc.record(
    { values: metaValues, referentialEqualities: metaValues, v: fc.oneof(fc.integer(), fc.string()) },
    { requiredKeys: [] },
  ),
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom<unknown>(null, "Date", 1, [], ["Date"], objectOf([["__proto__", { values: ["Date"] }]])),
);
const envelope = fc.oneof(
  { weight: 16, arbitrary: fc.constant<Envelope>({ kind: "superjson" }) },
  { weight: 3, arbitrary: tamperedMeta.map((meta): Envelope => ({ kind: "meta", meta })) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Envelope>(
      { kind: "shape", shape: "bare" },
      { kind: "shape", shape: "metaOnly" },
      { kind: "shape", shape: "array" },
      { kind: "shape", shape: "extra" },
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        fc.constantFrom(
          "",
          "{",
          "}",
          "null",
          "[]",
          "[{}]",
          '{"json":',
          '{"json":1}garbage',
          '{"json":{"id":"\\ud800"}}',
          '{"json":"\\u0000"}',
          "undefined",
          "NaN",
          '{"__proto__":{"json":1}}',
        ),
        fc.string({ maxLength: 40 }),
      )
      .map((text): Envelope => ({ kind: "raw", text })),
  },
);

interface Case {
  caller: CallerKind;
  input: Json;
  envelope: Envelope;
  hostile: boolean;
}

function caseOf(spec: Spec): fc.Arbitrary<Case> {
  const budget = spec.kind === "mutation" ? MUTATION_BUDGET : QUERY_BUDGET;
  const caller = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...spec.callers) },
    { weight: 1, arbitrary: fc.constantFrom(...CALLERS) },
  );
  return fc.oneof(
    {
      weight: 2,
      arbitrary: fc.record({
        caller,
        input: spec.valid,
        envelope: fc.constant<Envelope>({ kind: "superjson" }),
        hostile: fc.constant(false),
      }),
    },
    {
      weight: 5,
      arbitrary: fc.record({
        caller,
        input: hostileInput(spec.valid, budget),
        envelope,
        hostile: fc.constant(true),
      }),
    },
    { weight: 1, arbitrary: fc.record({ caller, input: spec.valid, envelope, hostile: fc.constant(true) }) },
  );
}

// ---------------------------------------------------------------------------------------------
// Sending and checking

/** The body (or `?input=`) for an input and its envelope; null sends none. */
function wire(input: unknown, env: Envelope): string | null {
  if (env.kind === "raw") return env.text;
  let serialized: { json: unknown; meta?: unknown };
  try {
    serialized = superjson.serialize(input);
  } catch {
    // superjson walks recursively: deep plain JSON goes as it is (it needs no meta).
    serialized = JSON.parse(
      JSON.stringify({ json: input }, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v)),
    ) as {
      json: unknown;
    };
  }
  if (input === undefined && env.kind === "superjson") return null;
  switch (env.kind) {
    case "superjson":
      return JSON.stringify(serialized);
    case "meta":
      return JSON.stringify({ json: serialized.json, meta: env.meta });
    case "shape":
      if (env.shape === "bare") return JSON.stringify(serialized.json ?? null);
      if (env.shape === "metaOnly")
        return JSON.stringify({ meta: serialized.meta ?? { values: ["undefined"] } });
      if (env.shape === "array") return JSON.stringify([serialized]);
      return JSON.stringify({ ...serialized, extra: true, "0": serialized });
  }
}

interface Answer {
  status: number;
  ms: number;
  text: string;
  body: unknown;
  contentType: string;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Percent-encodes text for a query string; lone surrogates travel as JSON escapes or U+FFFD. */
function queryEncode(text: string): string {
  return encodeURIComponent(text.replace(LONE_SURROGATE, "\uFFFD"));
}

async function send(
  kind: Kind,
  path: string,
  envelopeOrText: { json: unknown } | string | null,
  token: string | null,
): Promise<Answer> {
  const body =
    typeof envelopeOrText === "string" || envelopeOrText === null
      ? envelopeOrText
      : JSON.stringify(envelopeOrText);
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  const started = performance.now();
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort();
  }, 10_000);
  try {
    let res: Response;
    if (kind === "mutation") {
      headers["content-type"] = "application/json";
      res = await fetch(`${ts.url}/trpc/${path}`, {
        method: "POST",
        headers,
        signal: controller.signal,
        ...(body === null ? {} : { body }),
      });
    } else {
      const url = `${ts.url}/trpc/${path}${body === null ? "" : `?input=${queryEncode(body)}`}`;
      if (url.length > MAX_URL)
        throw new Error(
          `test error: a query URL of ${String(url.length)} characters (limit ${String(MAX_URL)})`,
        );
      res = await fetch(url, { headers, signal: controller.signal });
    }
    const contentType = res.headers.get("content-type") ?? "";
    let text: string;
    if (contentType.includes("text/event-stream")) text = await firstEvent(res, controller);
    else text = await res.text();
    const ms = performance.now() - started;
    let parsed: unknown = undefined;
    if (!contentType.includes("text/event-stream")) {
      try {
        parsed = JSON.parse(text) as unknown;
      } catch {
        parsed = undefined;
      }
    }
    return { status: res.status, ms, text, body: parsed, contentType };
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

/**
 * The start of an SSE stream (a subscription's answer): its "connected" event and whatever
 * follows within 300 ms (an error comes at once; a valid stream stays open and quiet).
 */
async function firstEvent(res: Response, controller: AbortController): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return "";
  const decoder = new TextDecoder();
  let text = "";
  let quiet: NodeJS.Timeout | undefined;
  const deadline = setTimeout(() => {
    controller.abort();
  }, 1500);
  try {
    while (!(/^event: ?(?!connected)/m.test(text) && text.endsWith("\n\n"))) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (quiet === undefined && /^event: ?connected/m.test(text))
        quiet = setTimeout(() => {
          controller.abort();
        }, 300);
    }
  } catch {
    // Aborted: the stream is open and quiet, which is fine.
  } finally {
    clearTimeout(deadline);
    clearTimeout(quiet);
  }
  return text;
}

const ErrorEnvelope = z.object({
  error: z.object({
    json: z.object({
      message: z.string(),
      code: z.number().int(),
      data: z.object({
        code: z.string(),
        httpStatus: z.number().int(),
        path: z.string().nullable(),
        requestId: z.string().nullable(),
        fieldErrors: z.record(z.string(), z.array(z.string())).nullable(),
      }),
    }),
  }),
});
const SuccessEnvelope = z.object({
  result: z.object({ data: z.object({ json: z.unknown(), meta: z.unknown().optional() }) }),
});

/** The error's texts a client sees: its message and field messages. */
function errorTexts(body: z.infer<typeof ErrorEnvelope>): string[] {
  const { message, data } = body.error.json;
  return [message, ...Object.values(data.fieldErrors ?? {}).flat()];
}

function checkAnswer(answer: Answer): "accepted" | "rejected" {
  const show = `${String(answer.status)} ${answer.text.slice(0, 500)}`;
  expect(answer.status, show).toBeLessThan(500);
  expect(answer.ms, `answered in ${answer.ms.toFixed(0)} ms: ${show}`).toBeLessThan(SLOW_MS);
  expect(STACK_TRACE.test(answer.text), `a stack trace: ${show}`).toBe(false);
  if (answer.contentType.includes("text/event-stream")) {
    // A subscription: an open stream (quiet, or with a first event), or an error event.
    expect(answer.status, show).toBe(200);
    const events = answer.text.split("\n\n").map((block) => ({
      event: /^event: ?(.*)$/m.exec(block)?.[1] ?? "message",
      data: /^data: ?(.*)$/m.exec(block)?.[1] ?? "",
    }));
    const failed = events.find((e) => e.event === "serialized-error");
    if (!failed) return "accepted";
    const error = ErrorEnvelope.safeParse({ error: JSON.parse(failed.data) as unknown });
    expect(error.success, `not tRPC's error envelope: ${show}`).toBe(true);
    if (error.success)
      for (const t of errorTexts(error.data)) expect(ENGINE_TEXT.test(t), `engine text: ${show}`).toBe(false);
    return "rejected";
  }
  expect(answer.contentType, show).toMatch(/application\/json/);
  expect(answer.body, `not JSON: ${show}`).toBeDefined();
  if (answer.status === 200) {
    expect(SuccessEnvelope.safeParse(answer.body).success, show).toBe(true);
    return "accepted";
  }
  expect(answer.status, show).toBeGreaterThanOrEqual(400);
  const parsed = ErrorEnvelope.safeParse(answer.body);
  expect(parsed.success, `not tRPC's error envelope: ${show}`).toBe(true);
  if (!parsed.success) return "rejected";
  expect(parsed.data.error.json.data.httpStatus, show).toBe(answer.status);
  for (const t of errorTexts(parsed.data)) expect(ENGINE_TEXT.test(t), `engine text: ${show}`).toBe(false);
  return "rejected";
}

/**
 * Row counts and checksums (an order-independent sum of row hashes, cheap enough to take
 * around every mutation) of every table a call could touch; last-used stamps left out.
 */
const CHECKSUM_SQL = `SELECT ${[
  ["users", "t"],
  ["markets", "t"],
  ["products", "t"],
  ["orders", "t"],
  ["order_items", "t"],
  ["posts", "t"],
  ["auth_sessions", "(t.id, t.user_id, t.revoked_at, t.created_at)"],
  ["refresh_tokens", "t"],
  [
    "api_keys",
    "(t.id, t.name, t.prefix, t.key_hash, t.role, t.expires_at, t.revoked_at, t.created_by_id, t.created_at)",
  ],
]
  .map(
    ([table, row]) =>
      `(SELECT count(*)::text || ':' || coalesce(sum(hashtext(${row ?? "t"}::text)::bigint), 0)::text FROM ${table ?? ""} t) AS ${table ?? ""}`,
  )
  .join(", ")}`;

/** The checksum after the last refused mutation, while nothing has been written since. */
let lastChecksum: { sums: Record<string, string>; made: number } | null = null;
/** Objects (and people) made for cases: each one makes `lastChecksum` stale. */
let made = 0;

async function checksum(): Promise<Record<string, string>> {
  const result = await ts.server.infra.database.pool.query<Record<string, string>>(CHECKSUM_SQL);
  return result.rows[0] ?? {};
}

async function callerOf(kind: CallerKind, endsSessions: boolean): Promise<UserSession | null> {
  if (endsSessions && kind !== "anon") {
    made += 1;
    return kind === "admin" ? people.newAdmin(ts, admin) : people.registerUser(ts);
  }
  switch (kind) {
    case "anon":
      return null;
    case "owner":
      return owner;
    case "other":
      return other;
    case "admin":
      return admin;
    case "fresh":
      made += 1;
      return people.registerUser(ts);
  }
}

const counted = { cases: 0, accepted: 0, rejected: 0 };

async function runCase(path: string, spec: Spec, c: Case): Promise<void> {
  if (process.env.FUZZ_DEBUG) console.log(path, fc.stringify(c).slice(0, 300));
  const caller = await callerOf(c.caller, spec.endsSessions ?? false);
  const token = caller?.tokens.accessToken ?? null;
  const input = await resolve(c.input, caller);
  const body = wire(input, c.envelope);
  // A query URL past Node's 16 KiB head limit is refused before any handler: not our case.
  fc.pre(spec.kind === "mutation" || body === null || queryEncode(body).length < MAX_URL - 500);
  let before: Record<string, string> | null = null;
  if (spec.kind === "mutation") {
    before = lastChecksum?.made === made ? lastChecksum.sums : await checksum();
    // Stale from here on, whether the call succeeds, is refused or fails the test.
    lastChecksum = null;
  }
  let answer = await send(spec.kind, path, body, token);
  if (spec.kind === "query" && counted.cases % COMPARE_EVERY === 0) await compareAdapters(path, body, token);
  if (answer.ms >= SLOW_MS && answer.status >= 400 && answer.status < 500) {
    // A refusal changes nothing, so it can be asked again: on this shared 2-core machine a
    // pause of the whole process (GC, a neighbour's load) sometimes delays one answer; a
    // request that is slow to refuse is slow twice.
    console.log(`fuzz: ${path} refused in ${answer.ms.toFixed(0)} ms; asking again`);
    answer = await send(spec.kind, path, body, token);
  }
  const outcome = checkAnswer(answer);
  counted.cases += 1;
  counted[outcome] += 1;
  if (before && outcome === "rejected") {
    const after = await checksum();
    expect(after, `a refused call changed the database: ${answer.text.slice(0, 300)}`).toEqual(before);
    lastChecksum = { sums: after, made };
  }
  if (outcome === "accepted" && spec.roundTrip && body !== null) {
    // What the server decoded (a tampered meta may have turned a field into something else;
    // the server ignores referentialEqualities, see trpc/init.ts).
    let seen: unknown;
    try {
      const envelope: unknown = JSON.parse(body);
      if (isPlainObject(envelope) && isPlainObject(envelope.meta))
        Reflect.deleteProperty(envelope.meta, "referentialEqualities");
      seen = superjson.deserialize(envelope as Parameters<typeof superjson.deserialize>[0]);
    } catch {
      return;
    }
    const out = (answer.body as { result: { data: { json: unknown } } }).result.data.json;
    await spec.roundTrip(asRecord(seen), asRecord(out), {
      token,
      role: caller === null ? null : caller === admin ? "ADMIN" : "USER",
    });
  }
}

// ---------------------------------------------------------------------------------------------

/** The type (query, mutation, subscription) of a procedure of the live router. */
function procedureType(path: string): unknown {
  const procedure: unknown = Object.entries(appRouter._def.procedures).find(([p]) => p === path)?.[1];
  if (typeof procedure !== "function" || !("_def" in procedure)) return undefined;
  const def: unknown = procedure._def;
  return def !== null && typeof def === "object" && "type" in def ? def.type : undefined;
}

const PROCEDURES = Object.keys(appRouter._def.procedures).sort();
/** Queries are cheap and mutations (a checksum around each) are not: queries get 5 shares. */
const shareOf = (path: string) => (SPECS[path]?.kind === "mutation" ? 1 : 5);
const SHARES = PROCEDURES.reduce((sum, p) => sum + shareOf(p), 0);
const runsOf = (path: string) => Math.ceil((RUNS * shareOf(path)) / SHARES);
const TIMEOUT = Math.max(60_000, Math.ceil(RUNS / SHARES) * 5 * 200);

describe("fuzzing every procedure over HTTP", () => {
  it("has a generator for every procedure of the live router", () => {
    expect(Object.keys(SPECS).sort()).toEqual(PROCEDURES);
  });

  it.each(PROCEDURES.map((p, i) => [p, i] as const))("%s", { timeout: TIMEOUT }, async (path, index) => {
    const spec = SPECS[path];
    if (!spec) throw new Error(`no generator for ${path}: add one to SPECS`);
    expect(procedureType(path)).toBe(spec.kind);
    await fc.assert(
      fc.asyncProperty(caseOf(spec), (c) => runCase(path, spec, c)),
      { seed: SEED + index, numRuns: runsOf(path) },
    );
  });

  it(`ran at least FUZZ_RUNS cases`, () => {
    console.log(
      `fuzz: ${String(counted.cases)} cases (${String(counted.accepted)} accepted, ${String(counted.rejected)} rejected), seed ${String(SEED)}`,
    );
    expect(counted.cases).toBeGreaterThanOrEqual(RUNS);
    console.log(`fuzz: ${String(compared.count)} queries compared with tRPC's own adapter`);
    expect(compared.count).toBeGreaterThan(0);
  });
});
