// The authorization matrix: every procedure of the live router, called by every kind of
// caller, against the real server through the typed client. One table says what each cell
// must answer (API.md: FORBIDDEN when you may see the object but not do this, NOT_FOUND when
// it is missing or hidden from you); a refused call must also leave its object as it was.
// A procedure added to the router without a row here fails the first test.
import { isDeepStrictEqual } from "node:util";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agoraErrorCode, createAgoraClient, type AgoraClient } from "@agora/client";
import { appRouter } from "@agora/server/router";
import { createMarket, createProduct } from "./support/marketplace.js";
import * as people from "./support/people.js";
import { activeMarketWithProduct, placeOrder, type UserSession, newUserInput } from "./support/people.js";
import { ADMIN, startTestServer, type TestServer } from "./support/server.js";
import { signTestToken } from "./support/tokens.js";

/**
 * Who calls. `owner` owns the object of the row (the market, the market of a product, the
 * post's author, the order's buyer, the user themself). `other` is a signed-in user with a
 * stake in the object but not its owner: the seller of an order (the owner of its market),
 * the owner of the market a post was written in, the buyer in a market; for markets and
 * products, a user who owns markets of their own. `user` is a signed-in user with no relation
 * to anything. `expired` and `revoked` carry the admin's identity, so they would succeed
 * wherever the admin does if the server accepted them.
 */
const KINDS = [
  "anon",
  "user",
  "other",
  "owner",
  "admin",
  "userKey",
  "adminKey",
  "expired",
  "revoked",
] as const;
type Kind = (typeof KINDS)[number];

/**
 * ok      succeeds (a read or list shows the object)
 * hides   succeeds without showing the object (a list), or without touching it (a no-op write)
 * 401     UNAUTHORIZED   403 FORBIDDEN   404 NOT_FOUND   409 CONFLICT
 */
const OUTCOMES = ["ok", "hides", "401", "403", "404", "409"] as const;
type Outcome = (typeof OUTCOMES)[number];

const MATRIX = `
| procedure                 | target                                       | anon  | user  | other | owner | admin | userKey | adminKey | expired | revoked |
|---------------------------|----------------------------------------------|-------|-------|-------|-------|-------|---------|----------|---------|---------|
| auth.register             | a new account                                | ok    | ok    | ok    | ok    | ok    | ok      | ok       | ok      | ok      |
| auth.login                | an account's email and password              | ok    | ok    | ok    | ok    | ok    | ok      | ok       | ok      | ok      |
| auth.refresh              | a live refresh token                         | ok    | ok    | ok    | ok    | ok    | ok      | ok       | ok      | ok      |
| auth.logout               | the caller's own session                     | 401   | ok    | ok    | ok    | ok    | 403     | 403      | 401     | 401     |
| auth.logout               | the owner's session                          | 401   | hides | hides | ok    | hides | 403     | 403      | 401     | 401     |
| auth.logoutAll            | the caller's sessions                        | 401   | ok    | ok    | ok    | ok    | 403     | 403      | 401     | 401     |
| auth.subscriptionTicket   | a ticket for the caller's session            | 401   | ok    | ok    | ok    | ok    | 403     | 403      | 401     | 401     |
| auth.changePassword       | the caller's password                        | 401   | ok    | ok    | ok    | ok    | 403     | 403      | 401     | 401     |
| auth.requestPasswordReset | an account's email                           | ok    | ok    | ok    | ok    | ok    | ok      | ok       | ok      | ok      |
| auth.resetPassword        | a mailed reset token                         | ok    | ok    | ok    | ok    | ok    | ok      | ok       | ok      | ok      |
| users.me                  | the caller                                   | 401   | ok    | ok    | ok    | ok    | 403     | 403      | 401     | 401     |
| users.updateMe            | the caller                                   | 401   | ok    | ok    | ok    | ok    | 403     | 403      | 401     | 401     |
| users.byId                | the owner                                    | ok    | ok    | ok    | ok    | ok    | ok      | ok       | 401     | 401     |
| users.byId                | an unknown id                                | 404   | 404   | 404   | 404   | 404   | 404     | 404      | 401     | 401     |
| users.list                | every user                                   | 401   | 403   | 403   | 403   | ok    | 403     | ok       | 401     | 401     |
| users.update              | the owner                                    | 401   | 403   | 403   | ok    | ok    | 403     | ok       | 401     | 401     |
| users.update              | an unknown id                                | 401   | 404   | 404   | 404   | 404   | 404     | 404      | 401     | 401     |
| users.setRole             | the owner, made ADMIN                        | 401   | 403   | 403   | 403   | ok    | 403     | ok       | 401     | 401     |
| users.delete              | the owner                                    | 401   | 403   | 403   | 403   | ok    | 403     | ok       | 401     | 401     |
| apiKeys.create            | a new key                                    | 401   | 403   | 403   | 403   | ok    | 403     | ok       | 401     | 401     |
| apiKeys.list              | every key                                    | 401   | 403   | 403   | 403   | ok    | 403     | ok       | 401     | 401     |
| apiKeys.revoke            | a key                                        | 401   | 403   | 403   | 403   | ok    | 403     | ok       | 401     | 401     |
| health.live               | the process                                  | ok    | ok    | ok    | ok    | ok    | ok      | ok       | ok      | ok      |
| health.ready              | the dependencies                             | ok    | ok    | ok    | ok    | ok    | ok      | ok       | ok      | ok      |
| jobs.stats                | the queues                                   | 401   | 403   | 403   | 403   | ok    | 403     | ok       | 401     | 401     |
| markets.list              | status ACTIVE: an ACTIVE market              | ok    | ok    | ok    | ok    | ok    | ok      | ok       | 401     | 401     |
| markets.list              | ownerId of the owner: a DRAFT market         | hides | hides | hides | ok    | ok    | hides   | ok       | 401     | 401     |
| markets.list              | status DRAFT: a DRAFT market                 | hides | hides | hides | ok    | ok    | hides   | ok       | 401     | 401     |
| markets.byId              | an ACTIVE market                             | ok    | ok    | ok    | ok    | ok    | ok      | ok       | 401     | 401     |
| markets.byId              | a DRAFT market                               | 404   | 404   | 404   | ok    | ok    | 404     | ok       | 401     | 401     |
| markets.create            | a new market                                 | 401   | ok    | ok    | ok    | ok    | 403     | 403      | 401     | 401     |
| markets.update            | an ACTIVE market                             | 401   | 403   | 403   | ok    | ok    | 403     | ok       | 401     | 401     |
| markets.update            | a DRAFT market                               | 401   | 404   | 404   | ok    | ok    | 404     | ok       | 401     | 401     |
| markets.delete            | an ACTIVE market                             | 401   | 403   | 403   | ok    | ok    | 403     | ok       | 401     | 401     |
| markets.delete            | a DRAFT market                               | 401   | 404   | 404   | ok    | ok    | 404     | ok       | 401     | 401     |
| markets.onEvent           | an ACTIVE market                             | ok    | ok    | ok    | ok    | ok    | ok      | ok       | 401     | 401     |
| markets.onEvent           | a DRAFT market                               | 404   | 404   | 404   | ok    | ok    | 404     | ok       | 401     | 401     |
| products.list             | an ACTIVE market's                           | ok    | ok    | ok    | ok    | ok    | ok      | ok       | 401     | 401     |
| products.list             | a DRAFT market's                             | 404   | 404   | 404   | ok    | ok    | 404     | ok       | 401     | 401     |
| products.byId             | in an ACTIVE market                          | ok    | ok    | ok    | ok    | ok    | ok      | ok       | 401     | 401     |
| products.byId             | in a DRAFT market                            | 404   | 404   | 404   | ok    | ok    | 404     | ok       | 401     | 401     |
| products.create           | in an ACTIVE market                          | 401   | 403   | 403   | ok    | ok    | 403     | ok       | 401     | 401     |
| products.create           | in a DRAFT market                            | 401   | 404   | 404   | ok    | ok    | 404     | ok       | 401     | 401     |
| products.update           | in an ACTIVE market                          | 401   | 403   | 403   | ok    | ok    | 403     | ok       | 401     | 401     |
| products.update           | in a DRAFT market                            | 401   | 404   | 404   | ok    | ok    | 404     | ok       | 401     | 401     |
| products.delete           | in an ACTIVE market                          | 401   | 403   | 403   | ok    | ok    | 403     | ok       | 401     | 401     |
| products.delete           | in a DRAFT market                            | 401   | 404   | 404   | ok    | ok    | 404     | ok       | 401     | 401     |
| orders.create             | in an ACTIVE market                          | 401   | ok    | ok    | ok    | ok    | 403     | 403      | 401     | 401     |
| orders.create             | in a DRAFT market                            | 401   | 404   | 404   | 409   | 409   | 403     | 403      | 401     | 401     |
| orders.byId               | the owner's order in other's market          | 401   | 404   | ok    | ok    | ok    | 404     | ok       | 401     | 401     |
| orders.listMine           | the owner's order                            | 401   | hides | hides | ok    | hides | 403     | 403      | 401     | 401     |
| orders.listForMarket      | the owner's market, other's order            | 401   | 403   | 403   | ok    | ok    | 403     | ok       | 401     | 401     |
| orders.listForMarket      | a DRAFT market                               | 401   | 404   | 404   | ok    | ok    | 404     | ok       | 401     | 401     |
| orders.cancel             | the owner's order in other's market          | 401   | 404   | 403   | ok    | ok    | 404     | ok       | 401     | 401     |
| posts.list                | published, by authorId                       | ok    | ok    | ok    | ok    | ok    | ok      | ok       | 401     | 401     |
| posts.list                | unpublished, by authorId                     | hides | hides | hides | ok    | ok    | hides   | ok       | 401     | 401     |
| posts.list                | published in a DRAFT market, by marketId     | hides | hides | hides | ok    | ok    | hides   | ok       | 401     | 401     |
| posts.byId                | published, in other's market                 | ok    | ok    | ok    | ok    | ok    | ok      | ok       | 401     | 401     |
| posts.byId                | unpublished, in other's market               | 404   | 404   | 404   | ok    | ok    | 404     | ok       | 401     | 401     |
| posts.byId                | published in a DRAFT market                  | 404   | 404   | 404   | ok    | ok    | 404     | ok       | 401     | 401     |
| posts.create              | a new post                                   | 401   | ok    | ok    | ok    | ok    | 403     | 403      | 401     | 401     |
| posts.create              | in a DRAFT market                            | 401   | 404   | 404   | ok    | ok    | 403     | 403      | 401     | 401     |
| posts.update              | published, in other's market                 | 401   | 403   | 403   | ok    | ok    | 403     | ok       | 401     | 401     |
| posts.update              | unpublished, in other's market               | 401   | 404   | 404   | ok    | ok    | 404     | ok       | 401     | 401     |
| posts.delete              | published, in other's market                 | 401   | 403   | 403   | ok    | ok    | 403     | ok       | 401     | 401     |
| posts.delete              | unpublished, in other's market               | 401   | 404   | 404   | ok    | ok    | 404     | ok       | 401     | 401     |
`;

interface Row {
  key: string;
  procedure: string;
  expected: Record<Kind, Outcome>;
}

function isOutcome(value: string): value is Outcome {
  return (OUTCOMES as readonly string[]).includes(value);
}

function parseMatrix(text: string): Row[] {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("|") && !l.startsWith("|-"));
  const [header, ...body] = lines.map((l) =>
    l
      .slice(1, -1)
      .split("|")
      .map((c) => c.trim()),
  );
  if (header?.slice(2).join() !== KINDS.join()) throw new Error(`matrix columns must be ${KINDS.join()}`);
  return body.map((cells) => {
    const [procedure = "", target = "", ...outcomes] = cells;
    if (outcomes.length !== KINDS.length) throw new Error(`matrix row ${procedure} | ${target}: wrong width`);
    const expected = Object.fromEntries(
      KINDS.map((kind, i) => {
        const value = outcomes[i] ?? "";
        if (!isOutcome(value))
          throw new Error(`matrix row ${procedure} | ${target}: unknown outcome ${value}`);
        return [kind, value];
      }),
    ) as Record<Kind, Outcome>;
    return { key: `${procedure} | ${target}`, procedure, expected };
  });
}

const ROWS = parseMatrix(MATRIX);

// ---------------------------------------------------------------------------------------------
// The cast and its fixtures

interface Caller {
  kind: Kind;
  api: AgoraClient;
  /** The caller's person, for the kinds that are one (user, other, owner, admin). */
  person: UserSession | null;
}

let ts: TestServer;
let owner: UserSession;
let other: UserSession;
let stranger: UserSession;
let admin: UserSession;
let userKey: string;
let adminKey: string;
let expiredToken: string;
let revokedToken: string;

/** Objects the read-only rows share; rows that write make their own, fresh for each cell. */
let fx: {
  activeMarket: string;
  draftMarket: string;
  otherMarket: string;
  activeProduct: string;
  draftProduct: string;
  /** Placed by the owner in other's market. */
  order: string;
  /** Placed by other in the owner's ACTIVE market. */
  orderInOwnersMarket: string;
  publishedPost: string;
  unpublishedPost: string;
  postInDraftMarket: string;
};

const signIn = (email: string, password: string) => people.signIn(ts, email, password);
const newUser = () => people.registerUser(ts);
const newAdmin = () => people.newAdmin(ts, admin);

beforeAll(async () => {
  ts = await startTestServer();
  admin = await signIn(ADMIN.email, ADMIN.password);
  [owner, other, stranger] = [await newUser(), await newUser(), await newUser()];
  userKey = (await admin.api.apiKeys.create.mutate({ name: "matrix user key", role: "USER" })).key;
  adminKey = (await admin.api.apiKeys.create.mutate({ name: "matrix admin key", role: "ADMIN" })).key;

  // The admin's live session, but past its expiry; and a session of the admin that was ended.
  const now = Math.floor(Date.now() / 1000);
  const { sid } = decodeJwt(admin.tokens.accessToken);
  expiredToken = await signTestToken(
    { sub: admin.user.id, role: "ADMIN", sid },
    { iat: now - 3600, exp: now - 60 },
  );
  const ended = await signIn(ADMIN.email, ADMIN.password);
  await ended.api.auth.logout.mutate({ refreshToken: ended.tokens.refreshToken });
  revokedToken = ended.tokens.accessToken;

  const active = await activeMarketWithProduct(owner);
  const draft = await createMarket(owner.api, { status: "DRAFT" });
  const draftProduct = await createProduct(owner.api, draft.id);
  const otherMarket = await activeMarketWithProduct(other);
  const order = await owner.api.orders.create.mutate({
    marketId: otherMarket.marketId,
    items: [{ productId: otherMarket.productId, quantity: 1 }],
  });
  const orderInOwnersMarket = await other.api.orders.create.mutate({
    marketId: active.marketId,
    items: [{ productId: active.productId, quantity: 1 }],
  });
  const post = (published: boolean, marketId: string) =>
    owner.api.posts.create.mutate({ title: "Matrix post", content: "Body", published, marketId });
  fx = {
    activeMarket: active.marketId,
    draftMarket: draft.id,
    otherMarket: otherMarket.marketId,
    activeProduct: active.productId,
    draftProduct: draftProduct.id,
    order: order.id,
    orderInOwnersMarket: orderInOwnersMarket.id,
    publishedPost: (await post(true, otherMarket.marketId)).id,
    unpublishedPost: (await post(false, otherMarket.marketId)).id,
    postInDraftMarket: (await post(true, draft.id)).id,
  };
});
afterAll(async () => {
  await ts.close();
});

// ---------------------------------------------------------------------------------------------
// How each row is called

/** How the user-like callers of a row are made. */
type Callers =
  /** The cast's long-lived sessions. */
  | "shared"
  /** A new session of the same person: the call ends the session it is made with. */
  | "fresh-session"
  /** New people (a new admin for `admin`): the call ends every session of its caller. */
  | "throwaway";

interface CaseSpec<T, R> {
  /** The object of the call; made once per cell, so a cell that succeeds changes only its own. */
  setup: () => Promise<T>;
  call: (api: AgoraClient, target: T, caller: Caller) => Promise<R>;
  /** Whether a successful answer shows the object (lists); `hides` when it does not. */
  shows?: (result: R, target: T) => boolean;
  /**
   * The object as the admin sees it. A refused call must leave it equal; a successful one
   * that leaves it equal counts as `hides` (a write that did nothing).
   */
  state?: (target: T, caller: Caller) => Promise<unknown>;
  /** Who plays `owner` when it is not the cast's owner (the target is a person made for the cell). */
  ownerOf?: (target: T) => UserSession;
  callers?: Callers;
  /**
   * The cells of a row run concurrently (each has its own object), except where they share
   * what `state` reads (one object for every cell, or a count), which a concurrent success
   * would change under a refused cell's check.
   */
  sequential?: boolean;
}

interface Runner {
  run: (kind: Kind) => Promise<string>;
  sequential: boolean;
}

function codeOf(error: unknown): string {
  const code = agoraErrorCode(error);
  const short: Record<string, Outcome> = {
    UNAUTHORIZED: "401",
    FORBIDDEN: "403",
    NOT_FOUND: "404",
    CONFLICT: "409",
  };
  if (code) return short[code] ?? code;
  return `threw ${error instanceof Error ? error.message : String(error)}`;
}

async function callerFor(kind: Kind, callers: Callers, ownerOverride: UserSession | null): Promise<Caller> {
  if (kind === "owner" && ownerOverride) return { kind, api: ownerOverride.api, person: ownerOverride };
  const cast: Partial<Record<Kind, UserSession>> = { user: stranger, other, owner, admin };
  const person = cast[kind];
  if (person) {
    let acting = person;
    if (callers === "throwaway") acting = kind === "admin" ? await newAdmin() : await newUser();
    else if (callers === "fresh-session") acting = await signIn(person.input.email, person.input.password);
    return { kind, api: acting.api, person: acting };
  }
  const clients: Partial<Record<Kind, AgoraClient>> = {
    anon: ts.client(),
    userKey: ts.client({ apiKey: userKey }),
    adminKey: ts.client({ apiKey: adminKey }),
    expired: ts.client({ token: expiredToken }),
    revoked: ts.client({ token: revokedToken }),
  };
  const api = clients[kind];
  if (!api) throw new Error(`no client for ${kind}`);
  return { kind, api, person: null };
}

function cell<T, R>(spec: CaseSpec<T, R>): Runner {
  const run = async (kind: Kind): Promise<string> => {
    const target = await spec.setup();
    const caller = await callerFor(kind, spec.callers ?? "shared", spec.ownerOf?.(target) ?? null);
    const state = spec.state;
    const before = state ? await state(target, caller) : undefined;
    let outcome: string;
    try {
      const result = await spec.call(caller.api, target, caller);
      outcome = spec.shows && !spec.shows(result, target) ? "hides" : "ok";
    } catch (error) {
      outcome = codeOf(error);
    }
    if (!state) return outcome;
    const changed = !isDeepStrictEqual(before, await state(target, caller));
    if (outcome === "ok") return changed ? "ok" : "hides";
    return changed ? `${outcome} (and changed the object)` : outcome;
  };
  return { run, sequential: spec.sequential ?? false };
}

const none = () => Promise.resolve(null);
let renames = 0;
const listed = (page: { items: { id: string }[] }, id: string) => page.items.some((i) => i.id === id);

/** The first event of a market's stream, once an admin changes the market; or the stream's error. */
function firstEvent(api: AgoraClient, marketId: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      subscription.unsubscribe();
      reject(new Error("no event and no error within 5 s"));
    }, 5000);
    const subscription = api.markets.onEvent.subscribe(
      { marketId },
      {
        onStarted() {
          admin.api.markets.update
            .mutate({ id: marketId, data: { description: `poked ${Date.now()}` } })
            .catch(reject);
        },
        onData(event) {
          clearTimeout(timer);
          subscription.unsubscribe();
          resolve(event);
        },
        onError(error) {
          clearTimeout(timer);
          subscription.unsubscribe();
          reject(error);
        },
      },
    );
  });
}

/** A mailed reset token for a new account (mail goes out from a background job). */
async function mailedResetToken(): Promise<string> {
  const person = await newUser();
  const before = ts.mailer.sent.length;
  await ts.client().auth.requestPasswordReset.mutate({ email: person.input.email });
  const mail = await ts.waitForMail(person.input.email, before);
  const token = /Reset token: (\S+)/.exec(mail.text)?.[1];
  if (!token) throw new Error("no reset token in the mail");
  return token;
}

const marketState = (id: string) => admin.api.markets.byId.query({ id }).catch(codeOf);
const productState = (id: string) => admin.api.products.byId.query({ id }).catch(codeOf);
const postState = (id: string) => admin.api.posts.byId.query({ id }).catch(codeOf);
const orderState = (id: string) => admin.api.orders.byId.query({ id }).catch(codeOf);
const userState = (id: string) => admin.api.users.byId.query({ id }).catch(codeOf);
/** Whether a session still works, by its access token. */
const sessionState = (token: string) =>
  ts
    .client({ token })
    .users.me.query()
    .then(() => "live", codeOf);

async function ownersPost(published: boolean): Promise<string> {
  const post = await owner.api.posts.create.mutate({
    title: "Target",
    content: "Body",
    published,
    marketId: fx.otherMarket,
  });
  return post.id;
}

const CASES: Record<string, Runner> = {
  "auth.register | a new account": cell({
    setup: () => Promise.resolve(newUserInput()),
    call: (api, input) => api.auth.register.mutate(input),
    state: (input) =>
      ts
        .client()
        .auth.login.mutate(input)
        .then(() => "exists", codeOf),
  }),
  "auth.login | an account's email and password": cell({
    setup: newUser,
    call: (api, p) => api.auth.login.mutate({ email: p.input.email, password: p.input.password }),
  }),
  "auth.refresh | a live refresh token": cell({
    setup: newUser,
    call: (api, p) => api.auth.refresh.mutate({ refreshToken: p.tokens.refreshToken }),
  }),
  "auth.logout | the caller's own session": cell({
    setup: () => signIn(owner.input.email, owner.input.password),
    callers: "fresh-session",
    // Callers that are no person offer a real session's token: still refused.
    call: (api, fallback, caller) =>
      api.auth.logout.mutate({ refreshToken: (caller.person ?? fallback).tokens.refreshToken }),
    state: (fallback, caller) => sessionState((caller.person ?? fallback).tokens.accessToken),
  }),
  "auth.logout | the owner's session": cell({
    setup: () => signIn(owner.input.email, owner.input.password),
    call: (api, session) => api.auth.logout.mutate({ refreshToken: session.tokens.refreshToken }),
    state: (session) => sessionState(session.tokens.accessToken),
  }),
  "auth.logoutAll | the caller's sessions": cell({
    setup: none,
    callers: "throwaway",
    call: (api) => api.auth.logoutAll.mutate(),
    state: (_none, caller) => sessionState((caller.person ?? owner).tokens.accessToken),
  }),
  "auth.subscriptionTicket | a ticket for the caller's session": cell({
    setup: none,
    call: (api) => api.auth.subscriptionTicket.mutate(),
  }),
  "auth.changePassword | the caller's password": cell({
    setup: none,
    callers: "throwaway",
    call: (api, _none, caller) =>
      api.auth.changePassword.mutate({
        currentPassword: caller.person?.input.password ?? owner.input.password,
        newPassword: "Changed-Passw0rd",
      }),
    state: (_none, caller) => {
      const { email, password } = (caller.person ?? owner).input;
      return ts
        .client()
        .auth.login.mutate({ email, password })
        .then(() => "unchanged", codeOf);
    },
  }),
  "auth.requestPasswordReset | an account's email": cell({
    setup: newUser,
    call: (api, p) => api.auth.requestPasswordReset.mutate({ email: p.input.email }),
  }),
  "auth.resetPassword | a mailed reset token": cell({
    setup: mailedResetToken,
    call: (api, token) => api.auth.resetPassword.mutate({ token, newPassword: "Reset-Passw0rd" }),
  }),
  "users.me | the caller": cell({
    setup: none,
    call: (api) => api.users.me.query(),
  }),
  "users.updateMe | the caller": cell({
    setup: none,
    call: (api) => api.users.updateMe.mutate({ name: "Renamed by the matrix" }),
  }),
  "users.byId | the owner": cell({
    setup: none,
    call: (api) => api.users.byId.query({ id: owner.user.id }),
  }),
  "users.byId | an unknown id": cell({
    setup: none,
    call: (api) => api.users.byId.query({ id: "no-such-user" }),
  }),
  "users.list | every user": cell({
    setup: none,
    call: (api) => api.users.list.query({ limit: 1 }),
  }),
  "users.update | the owner": cell({
    sequential: true,
    setup: none,
    call: (api) =>
      api.users.update.mutate({ id: owner.user.id, data: { name: `Named ${String((renames += 1))}` } }),
    state: () => userState(owner.user.id),
  }),
  "users.update | an unknown id": cell({
    setup: none,
    call: (api) => api.users.update.mutate({ id: "no-such-user", data: { name: "Nobody" } }),
  }),
  "users.setRole | the owner, made ADMIN": cell({
    setup: newUser,
    ownerOf: (p) => p,
    call: (api, p) => api.users.setRole.mutate({ id: p.user.id, role: "ADMIN" }),
    state: (p) => userState(p.user.id),
  }),
  "users.delete | the owner": cell({
    setup: newUser,
    ownerOf: (p) => p,
    call: (api, p) => api.users.delete.mutate({ id: p.user.id }),
    state: (p) => userState(p.user.id),
  }),
  "apiKeys.create | a new key": cell({
    sequential: true,
    setup: none,
    call: (api) => api.apiKeys.create.mutate({ name: "made in the matrix" }),
    state: () => admin.api.apiKeys.list.query().then((keys) => keys.length),
  }),
  "apiKeys.list | every key": cell({
    setup: none,
    call: (api) => api.apiKeys.list.query(),
  }),
  "apiKeys.revoke | a key": cell({
    setup: () => admin.api.apiKeys.create.mutate({ name: "to revoke" }),
    call: (api, key) => api.apiKeys.revoke.mutate({ id: key.id }),
    state: (key) =>
      ts
        .client({ apiKey: key.key })
        .markets.list.query({ limit: 1 })
        .then(() => "works", codeOf),
  }),
  "health.live | the process": cell({ setup: none, call: (api) => api.health.live.query() }),
  "health.ready | the dependencies": cell({ setup: none, call: (api) => api.health.ready.query() }),
  "jobs.stats | the queues": cell({ setup: none, call: (api) => api.jobs.stats.query() }),

  "markets.list | status ACTIVE: an ACTIVE market": cell({
    setup: none,
    call: (api) =>
      api.markets.list.query({ ownerId: owner.user.id, status: "ACTIVE", order: "asc", limit: 100 }),
    shows: (page) => listed(page, fx.activeMarket),
  }),
  "markets.list | ownerId of the owner: a DRAFT market": cell({
    setup: none,
    call: (api) => api.markets.list.query({ ownerId: owner.user.id, order: "asc", limit: 100 }),
    shows: (page) => listed(page, fx.draftMarket),
  }),
  "markets.list | status DRAFT: a DRAFT market": cell({
    setup: none,
    call: (api) => api.markets.list.query({ status: "DRAFT", order: "asc", limit: 100 }),
    shows: (page) => listed(page, fx.draftMarket),
  }),
  "markets.byId | an ACTIVE market": cell({
    setup: none,
    call: (api) => api.markets.byId.query({ id: fx.activeMarket }),
  }),
  "markets.byId | a DRAFT market": cell({
    setup: none,
    call: (api) => api.markets.byId.query({ id: fx.draftMarket }),
  }),
  "markets.create | a new market": cell({
    sequential: true,
    setup: none,
    call: (api) => api.markets.create.mutate({ name: "Made in the matrix" }),
    state: () => admin.api.markets.list.query({ limit: 1 }).then((page) => page.total),
  }),
  "markets.update | an ACTIVE market": cell({
    setup: () => createMarket(owner.api, { status: "ACTIVE" }).then((m) => m.id),
    call: (api, id) => api.markets.update.mutate({ id, data: { name: "Renamed", status: "CLOSED" } }),
    state: marketState,
  }),
  "markets.update | a DRAFT market": cell({
    setup: () => createMarket(owner.api, { status: "DRAFT" }).then((m) => m.id),
    call: (api, id) => api.markets.update.mutate({ id, data: { name: "Renamed", status: "ACTIVE" } }),
    state: marketState,
  }),
  "markets.delete | an ACTIVE market": cell({
    setup: () => createMarket(owner.api, { status: "ACTIVE" }).then((m) => m.id),
    call: (api, id) => api.markets.delete.mutate({ id }),
    state: marketState,
  }),
  "markets.delete | a DRAFT market": cell({
    setup: () => createMarket(owner.api, { status: "DRAFT" }).then((m) => m.id),
    call: (api, id) => api.markets.delete.mutate({ id }),
    state: marketState,
  }),
  "markets.onEvent | an ACTIVE market": cell({
    setup: none,
    call: (api) => firstEvent(api, fx.activeMarket),
  }),
  "markets.onEvent | a DRAFT market": cell({
    setup: none,
    call: (api) => firstEvent(api, fx.draftMarket),
  }),

  "products.list | an ACTIVE market's": cell({
    setup: none,
    call: (api) => api.products.list.query({ marketId: fx.activeMarket, limit: 100 }),
    shows: (page) => listed(page, fx.activeProduct),
  }),
  "products.list | a DRAFT market's": cell({
    setup: none,
    call: (api) => api.products.list.query({ marketId: fx.draftMarket, limit: 100 }),
    shows: (page) => listed(page, fx.draftProduct),
  }),
  "products.byId | in an ACTIVE market": cell({
    setup: none,
    call: (api) => api.products.byId.query({ id: fx.activeProduct }),
  }),
  "products.byId | in a DRAFT market": cell({
    setup: none,
    call: (api) => api.products.byId.query({ id: fx.draftProduct }),
  }),
  "products.create | in an ACTIVE market": cell({
    setup: () => createMarket(owner.api, { status: "ACTIVE" }).then((m) => m.id),
    call: (api, marketId) => api.products.create.mutate({ marketId, name: "New", priceCents: 1, stock: 1 }),
    state: (marketId) => admin.api.products.list.query({ marketId }),
  }),
  "products.create | in a DRAFT market": cell({
    setup: () => createMarket(owner.api, { status: "DRAFT" }).then((m) => m.id),
    call: (api, marketId) => api.products.create.mutate({ marketId, name: "New", priceCents: 1, stock: 1 }),
    state: (marketId) => admin.api.products.list.query({ marketId }),
  }),
  "products.update | in an ACTIVE market": cell({
    setup: () => activeMarketWithProduct(owner).then((m) => m.productId),
    call: (api, id) => api.products.update.mutate({ id, data: { priceCents: 1, stock: 0 } }),
    state: productState,
  }),
  "products.update | in a DRAFT market": cell({
    setup: async () =>
      (await createProduct(owner.api, (await createMarket(owner.api, { status: "DRAFT" })).id)).id,
    call: (api, id) => api.products.update.mutate({ id, data: { priceCents: 1, stock: 0 } }),
    state: productState,
  }),
  "products.delete | in an ACTIVE market": cell({
    setup: () => activeMarketWithProduct(owner).then((m) => m.productId),
    call: (api, id) => api.products.delete.mutate({ id }),
    state: productState,
  }),
  "products.delete | in a DRAFT market": cell({
    setup: async () =>
      (await createProduct(owner.api, (await createMarket(owner.api, { status: "DRAFT" })).id)).id,
    call: (api, id) => api.products.delete.mutate({ id }),
    state: productState,
  }),

  "orders.create | in an ACTIVE market": cell({
    setup: () => activeMarketWithProduct(owner),
    call: (api, m) =>
      api.orders.create.mutate({ marketId: m.marketId, items: [{ productId: m.productId, quantity: 1 }] }),
    state: (m) => Promise.all([marketState(m.marketId), productState(m.productId)]),
  }),
  "orders.create | in a DRAFT market": cell({
    setup: async () => {
      const market = await createMarket(owner.api, { status: "DRAFT" });
      return { marketId: market.id, productId: (await createProduct(owner.api, market.id)).id };
    },
    call: (api, m) =>
      api.orders.create.mutate({ marketId: m.marketId, items: [{ productId: m.productId, quantity: 1 }] }),
    state: (m) => Promise.all([marketState(m.marketId), productState(m.productId)]),
  }),
  "orders.byId | the owner's order in other's market": cell({
    setup: none,
    call: (api) => api.orders.byId.query({ id: fx.order }),
  }),
  "orders.listMine | the owner's order": cell({
    setup: none,
    call: (api) => api.orders.listMine.query({ limit: 100 }),
    shows: (page) => listed(page, fx.order),
  }),
  "orders.listForMarket | the owner's market, other's order": cell({
    setup: none,
    call: (api) => api.orders.listForMarket.query({ marketId: fx.activeMarket, limit: 100 }),
    shows: (page) => listed(page, fx.orderInOwnersMarket),
  }),
  "orders.listForMarket | a DRAFT market": cell({
    setup: none,
    call: (api) => api.orders.listForMarket.query({ marketId: fx.draftMarket }),
  }),
  "orders.cancel | the owner's order in other's market": cell({
    setup: () => placeOrder(owner, other),
    call: (api, id) => api.orders.cancel.mutate({ id }),
    state: orderState,
  }),

  "posts.list | published, by authorId": cell({
    setup: none,
    call: (api) => api.posts.list.query({ authorId: owner.user.id, marketId: fx.otherMarket, limit: 100 }),
    shows: (page) => listed(page, fx.publishedPost),
  }),
  "posts.list | unpublished, by authorId": cell({
    setup: none,
    call: (api) => api.posts.list.query({ authorId: owner.user.id, marketId: fx.otherMarket, limit: 100 }),
    shows: (page) => listed(page, fx.unpublishedPost),
  }),
  "posts.list | published in a DRAFT market, by marketId": cell({
    setup: none,
    call: (api) => api.posts.list.query({ marketId: fx.draftMarket, limit: 100 }),
    shows: (page) => listed(page, fx.postInDraftMarket),
  }),
  "posts.byId | published, in other's market": cell({
    setup: none,
    call: (api) => api.posts.byId.query({ id: fx.publishedPost }),
  }),
  "posts.byId | unpublished, in other's market": cell({
    setup: none,
    call: (api) => api.posts.byId.query({ id: fx.unpublishedPost }),
  }),
  "posts.byId | published in a DRAFT market": cell({
    setup: none,
    call: (api) => api.posts.byId.query({ id: fx.postInDraftMarket }),
  }),
  "posts.create | a new post": cell({
    sequential: true,
    setup: none,
    call: (api) => api.posts.create.mutate({ title: "New", content: "Body" }),
    state: () => admin.api.posts.list.query({ limit: 1 }).then((page) => page.items[0]?.id),
  }),
  "posts.create | in a DRAFT market": cell({
    setup: () => createMarket(owner.api, { status: "DRAFT" }).then((m) => m.id),
    call: (api, marketId) => api.posts.create.mutate({ title: "New", content: "Body", marketId }),
    state: (marketId) => admin.api.posts.list.query({ marketId }),
  }),
  "posts.update | published, in other's market": cell({
    setup: () => ownersPost(true),
    call: (api, id) => api.posts.update.mutate({ id, data: { title: "Changed", published: false } }),
    state: postState,
  }),
  "posts.update | unpublished, in other's market": cell({
    setup: () => ownersPost(false),
    call: (api, id) => api.posts.update.mutate({ id, data: { title: "Changed", published: true } }),
    state: postState,
  }),
  "posts.delete | published, in other's market": cell({
    setup: () => ownersPost(true),
    call: (api, id) => api.posts.delete.mutate({ id }),
    state: postState,
  }),
  "posts.delete | unpublished, in other's market": cell({
    setup: () => ownersPost(false),
    call: (api, id) => api.posts.delete.mutate({ id }),
    state: postState,
  }),
};

// ---------------------------------------------------------------------------------------------

describe("authorization matrix", () => {
  it("has a row for every procedure of the live router, and a way to call every row", () => {
    const live = Object.keys(appRouter._def.procedures).sort();
    const covered = [...new Set(ROWS.map((r) => r.procedure))].sort();
    expect(covered).toEqual(live);
    expect(ROWS.map((r) => r.key).sort()).toEqual(Object.keys(CASES).sort());
    expect(new Set(ROWS.map((r) => r.key)).size).toBe(ROWS.length);
  });

  it.each(ROWS.map((row) => [row.key, row] as const))("%s", { timeout: 120_000 }, async (_key, row) => {
    const runner = CASES[row.key];
    if (!runner) throw new Error(`no case for ${row.key}`);
    const actual: Record<string, string> = {};
    if (runner.sequential) for (const kind of KINDS) actual[kind] = await runner.run(kind);
    else {
      const outcomes = await Promise.all(KINDS.map((kind) => runner.run(kind)));
      KINDS.forEach((kind, i) => (actual[kind] = outcomes[i] ?? "missing"));
    }
    expect(actual).toEqual(row.expected);
  });
});

// ---------------------------------------------------------------------------------------------

/** One call to /api/v1 (trpc-to-openapi over the same procedures): status and JSON body. */
async function rest(
  method: string,
  path: string,
  auth: { token?: string; apiKey?: string } = {},
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  if (auth.apiKey) headers["x-api-key"] = auth.apiKey;
  const res = await fetch(`${ts.url}/api/v1${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
}

describe("the same object-level rules over REST (/api/v1)", () => {
  it("hides, refuses and leaves unchanged as /trpc does", async () => {
    const draft = await createMarket(owner.api, { status: "DRAFT" });
    const active = await createMarket(owner.api, { status: "ACTIVE" });
    const product = await createProduct(owner.api, active.id);
    const order = await placeOrder(owner, other);
    const published = await ownersPost(true);
    const unpublished = await ownersPost(false);
    const as = (p: UserSession) => ({ token: p.tokens.accessToken });
    const snapshot = () =>
      Promise.all([
        marketState(draft.id),
        marketState(active.id),
        productState(product.id),
        orderState(order),
        postState(published),
        postState(unpublished),
      ]);
    const before = await snapshot();

    const cases: [string, string, { token?: string; apiKey?: string }, unknown, number][] = [
      ["GET", `/markets/${draft.id}`, as(other), undefined, 404],
      ["GET", `/markets/${draft.id}`, { apiKey: userKey }, undefined, 404],
      ["GET", `/markets/${draft.id}`, { token: expiredToken }, undefined, 401],
      ["PATCH", `/markets/${draft.id}`, as(other), { data: { status: "ACTIVE" } }, 404],
      ["PATCH", `/markets/${active.id}`, as(other), { data: { name: "Taken over" } }, 403],
      ["PATCH", `/markets/${active.id}`, { apiKey: userKey }, { data: { name: "Taken over" } }, 403],
      ["DELETE", `/markets/${draft.id}`, as(stranger), undefined, 404],
      ["DELETE", `/markets/${active.id}`, as(stranger), undefined, 403],
      ["GET", `/markets/${draft.id}/products`, as(other), undefined, 404],
      ["POST", `/markets/${draft.id}/products`, as(other), { name: "x", priceCents: 1, stock: 1 }, 404],
      ["PATCH", `/products/${product.id}`, as(other), { data: { priceCents: 1 } }, 403],
      ["DELETE", `/products/${product.id}`, { apiKey: userKey }, undefined, 403],
      ["GET", `/orders/${order}`, as(stranger), undefined, 404],
      ["GET", `/orders/${order}`, as(other), undefined, 200],
      ["POST", `/orders/${order}/cancel`, as(other), {}, 403],
      ["POST", `/orders/${order}/cancel`, as(stranger), {}, 404],
      ["GET", `/markets/${fx.activeMarket}/orders`, as(other), undefined, 403],
      ["GET", `/posts/${unpublished}`, {}, undefined, 404],
      ["PATCH", `/posts/${unpublished}`, as(other), { data: { published: true } }, 404],
      ["PATCH", `/posts/${published}`, as(other), { data: { title: "Defaced" } }, 403],
      ["DELETE", `/posts/${published}`, as(stranger), undefined, 403],
      ["GET", "/users/me", { apiKey: adminKey }, undefined, 403],
    ];
    const answered = [];
    for (const [method, path, auth, body] of cases) {
      answered.push([method, path, (await rest(method, path, auth, body)).status]);
    }
    expect(answered).toEqual(cases.map(([method, path, , , status]) => [method, path, status]));
    expect(await snapshot()).toEqual(before);

    // A list filtered by someone else's id shows only what the caller may see.
    const listed = async (auth: { token?: string }) => {
      const res = await rest("GET", `/markets?ownerId=${owner.user.id}&status=DRAFT&limit=100`, auth);
      return (res.body as { items: { id: string }[] }).items.map((m) => m.id);
    };
    expect(await listed(as(other))).toEqual([]);
    expect(await listed(as(owner))).toContain(draft.id);
  });
});

describe("lists count only what the caller may see", () => {
  it("markets.list's total leaves hidden DRAFT markets out", async () => {
    const count = async (api: AgoraClient, status?: "DRAFT" | "ACTIVE" | "CLOSED") =>
      (await api.markets.list.query({ ownerId: owner.user.id, limit: 1, ...(status ? { status } : {}) }))
        .total;
    const drafts = await count(admin.api, "DRAFT");
    expect(drafts).toBeGreaterThan(0);
    const all = await count(admin.api);
    expect(await count(owner.api)).toBe(all);
    for (const api of [ts.client(), other.api, ts.client({ apiKey: userKey })]) {
      expect(await count(api)).toBe(all - drafts);
      expect(await count(api, "DRAFT")).toBe(0);
    }
  });
});

describe("stale credentials on public procedures", () => {
  it("are refused (not treated as anonymous), so the SDK refreshes and the owner still sees their draft", async () => {
    const alice = await newUser();
    const draft = await createMarket(alice.api, { status: "DRAFT" });
    const now = Math.floor(Date.now() / 1000);
    const { sid } = decodeJwt(alice.tokens.accessToken);
    const stale = await signTestToken(
      { sub: alice.user.id, role: "USER", sid },
      { iat: now - 3600, exp: now - 60 },
    );
    const state = { tokens: { ...alice.tokens, accessToken: stale } };
    const api = createAgoraClient({
      url: ts.url,
      getAccessToken: () => state.tokens.accessToken,
      refreshToken: () => state.tokens.refreshToken,
      onTokens: (tokens) => {
        state.tokens = tokens;
      },
    });

    // Anonymous, the draft does not exist: that must not be the answer to its owner.
    expect(
      codeOf(
        await ts
          .client({ token: stale })
          .markets.byId.query({ id: draft.id })
          .catch((e: unknown) => e),
      ),
    ).toBe("401");
    expect((await api.markets.byId.query({ id: draft.id })).id).toBe(draft.id);
    expect(state.tokens.accessToken).not.toBe(stale);

    // The same for a stream: the refresh link reopens it with the new token.
    state.tokens = { ...state.tokens, accessToken: stale };
    const event = await firstEvent(api, draft.id);
    expect(event).toMatchObject({ data: { type: "market.updated" } });
  });
});
