// Behaviour of the client SDK itself, against the real server: batching and its cap,
// automatic token refresh (single flight, no loops), typed errors, credentials and headers,
// and subscriptions over server-sent events.
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  agoraErrorCode,
  createAgoraClient,
  isAgoraError,
  MAX_BATCH_SIZE,
  type AgoraClientOptions,
  type RouterOutputs,
  type SubscriptionEvent,
  type Tokens,
} from "@agora/client";
import { createTokenStore, retryUnlessClientError } from "@agora/client/react";
import { expectError } from "./support/errors.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { loginAdmin, registerUser } from "./support/people.js";
import { signTestToken } from "./support/tokens.js";

let ts: TestServer;
beforeAll(async () => {
  ts = await startTestServer();
});
afterAll(async () => {
  await ts.close();
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface SeenRequest {
  url: URL;
  /** Procedure paths in the request, e.g. ["users.me", "health.live"] for a batch. */
  paths: string[];
  headers: Headers;
  response?: Response;
}

/**
 * A fetch that records every request (and its response) before passing it on. `delay`
 * holds a request back before sending it, to arrange the order in which responses arrive.
 */
function recordingFetch(delay: (request: SeenRequest) => number = () => 0) {
  const requests: SeenRequest[] = [];
  const fetchImpl: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const paths = decodeURIComponent(url.pathname.replace(/^\/trpc\//, "")).split(",");
    const request: SeenRequest = { url, paths, headers: new Headers(init?.headers) };
    requests.push(request);
    const ms = delay(request);
    if (ms > 0) await sleep(ms);
    const response = await fetch(input, init);
    request.response = response;
    return response;
  };
  const calls = (path: string) => requests.filter((r) => r.paths.includes(path));
  return { fetch: fetchImpl, requests, calls };
}

/** The same access token, but expired an hour ago: what a client holds after a long pause. */
async function expire(accessToken: string): Promise<string> {
  const { sub, role, sid } = decodeJwt(accessToken);
  const now = Math.floor(Date.now() / 1000);
  return signTestToken({ sub, role, sid }, { iat: now - 7200, exp: now - 3600 });
}

/** A client whose session lives in `state`, as an app would keep it. */
function sessionClient(
  state: { tokens: Tokens },
  extra: Omit<AgoraClientOptions, "url" | "getAccessToken" | "refreshToken" | "onTokens"> = {},
) {
  const rotated: Tokens[] = [];
  const api = createAgoraClient({
    ...extra,
    url: ts.url,
    getAccessToken: () => state.tokens.accessToken,
    refreshToken: () => state.tokens.refreshToken,
    onTokens: (tokens) => {
      rotated.push(tokens);
      state.tokens = tokens;
    },
  });
  return { api, rotated };
}

describe("batching", () => {
  it("sends calls made together in one HTTP request, queries and mutations apart", async () => {
    const alice = await registerUser(ts);
    const rec = recordingFetch();
    const api = createAgoraClient({
      url: ts.url,
      fetch: rec.fetch,
      getAccessToken: () => alice.tokens.accessToken,
    });

    const [me, byId, health, m1, m2] = await Promise.all([
      api.users.me.query(),
      api.users.byId.query({ id: alice.user.id }),
      api.health.live.query(),
      api.markets.create.mutate({ name: "Batch one" }),
      api.markets.create.mutate({ name: "Batch two" }),
    ]);

    expect(me.id).toBe(alice.user.id);
    expect(byId.username).toBe(alice.user.username);
    expect(health.status).toBe("ok");
    expect([m1.name, m2.name]).toEqual(["Batch one", "Batch two"]);
    expect(rec.requests).toHaveLength(2);
    expect(rec.requests.map((r) => r.paths)).toEqual(
      expect.arrayContaining([
        ["users.me", "users.byId", "health.live"],
        ["markets.create", "markets.create"],
      ]),
    );
    expect(rec.requests.every((r) => r.url.searchParams.get("batch") === "1")).toBe(true);
  });

  it("caps a batch at 50 calls, the server's limit: 60 calls take 2 requests", async () => {
    const rec = recordingFetch();
    const api = createAgoraClient({ url: ts.url, fetch: rec.fetch });

    const results = await Promise.all(Array.from({ length: 60 }, () => api.health.live.query()));

    expect(MAX_BATCH_SIZE).toBe(50);
    expect(results).toEqual(Array.from({ length: 60 }, () => ({ status: "ok" })));
    expect(rec.requests.map((r) => r.paths.length).sort((a, b) => a - b)).toEqual([10, 50]);
  });

  it("matches the server: a batch of 51 is refused", async () => {
    const paths = Array.from({ length: MAX_BATCH_SIZE + 1 }, () => "health.live").join(",");
    const res = await fetch(`${ts.url}/trpc/${paths}?batch=1&input=%7B%7D`);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });
});

describe("automatic token refresh", () => {
  it("refreshes once for many concurrent calls, hands the new tokens to onTokens, retries each", async () => {
    const alice = await registerUser(ts);
    const state = { tokens: { ...alice.tokens, accessToken: await expire(alice.tokens.accessToken) } };
    const stale = state.tokens.accessToken;
    // Hold the refresh back so that later failures arrive while it is in flight, and hold one
    // stale request back so that its failure arrives after the refresh finished.
    const rec = recordingFetch((request) => {
      if (request.paths.includes("auth.refresh")) return 150;
      const stalePaths = request.headers.get("authorization") === `Bearer ${stale}` ? request.paths : [];
      return stalePaths.includes("markets.create") ? 400 : 0;
    });
    const { api, rotated } = sessionClient(state, { fetch: rec.fetch });

    const first = Array.from({ length: 5 }, () => api.users.me.query());
    await sleep(20);
    const second = Array.from({ length: 3 }, () => api.users.me.query());
    await sleep(20);
    const third = [api.markets.create.mutate({ name: "After refresh" })];
    const [me, ...rest] = await Promise.all([...first, ...second]);
    const [market] = await Promise.all(third);

    expect(me?.id).toBe(alice.user.id);
    expect(rest.every((u) => u.id === alice.user.id)).toBe(true);
    expect(market?.owner.id).toBe(alice.user.id);

    expect(rec.calls("auth.refresh")).toHaveLength(1);
    expect(rotated).toHaveLength(1);
    expect(rotated[0]?.refreshToken).not.toBe(alice.tokens.refreshToken);
    expect(state.tokens).toEqual(rotated[0]);

    // The refresh showed the access token it replaces (which session it comes from).
    expect(rec.calls("auth.refresh")[0]?.headers.get("authorization")).toBe(`Bearer ${stale}`);
    // Three stale requests failed; each was retried once, with the new token.
    const withStale = rec.requests.filter(
      (r) => !r.paths.includes("auth.refresh") && r.headers.get("authorization") === `Bearer ${stale}`,
    );
    const withFresh = rec.requests.filter(
      (r) => r.headers.get("authorization") === `Bearer ${state.tokens.accessToken}`,
    );
    expect(withStale).toHaveLength(3);
    expect(withStale.every((r) => r.response?.status === 401)).toBe(true);
    expect(withFresh.flatMap((r) => r.paths).sort()).toEqual(
      ["markets.create", ...Array.from({ length: 8 }, () => "users.me")].sort(),
    );

    // The new session works without any further refresh.
    await api.users.me.query();
    expect(rec.calls("auth.refresh")).toHaveLength(1);
  });

  it("keeps two tabs of one session signed in when both refresh with the same token at once", async () => {
    const alice = await registerUser(ts);
    const expired = await expire(alice.tokens.accessToken);
    // Two tabs: each its own client, each read the same tokens from storage before either refreshed.
    const tabs = [0, 1].map(() => {
      const rec = recordingFetch((request) => (request.paths.includes("auth.refresh") ? 50 : 0));
      return {
        rec,
        ...sessionClient({ tokens: { ...alice.tokens, accessToken: expired } }, { fetch: rec.fetch }),
      };
    });
    const answers = await Promise.all(tabs.map((tab) => tab.api.users.me.query()));
    expect(answers.map((me) => me.id)).toEqual([alice.user.id, alice.user.id]);
    expect(tabs.map((tab) => tab.rec.calls("auth.refresh").length)).toEqual([1, 1]);
    const [first, second] = tabs.map((tab) => tab.rotated[0]);
    expect(first?.refreshToken).toBe(second?.refreshToken);
    // The session lives on in both tabs.
    for (const tab of tabs) expect((await tab.api.users.me.query()).id).toBe(alice.user.id);
  });

  it("throws the original UNAUTHORIZED when the refresh fails, and never retries a refused token", async () => {
    const alice = await registerUser(ts);
    const state = {
      tokens: {
        ...alice.tokens,
        accessToken: await expire(alice.tokens.accessToken),
        refreshToken: "rt_not-a-token",
      },
    };
    const rec = recordingFetch();
    const { api, rotated } = sessionClient(state, { fetch: rec.fetch });

    const results = await Promise.allSettled(Array.from({ length: 4 }, () => api.users.me.query()));
    for (const result of results) {
      expect(result.status).toBe("rejected");
      if (result.status === "rejected") expect(agoraErrorCode(result.reason)).toBe("UNAUTHORIZED");
    }
    expect(rec.calls("auth.refresh")).toHaveLength(1);
    expect(rotated).toHaveLength(0);

    // The refused refresh token is not sent again: a call now fails after one request.
    const before = rec.requests.length;
    await expect(api.users.me.query()).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });
    expect(rec.requests.length - before).toBe(1);
  });

  it("tells onSessionExpired once when the server refuses the refresh token; a wrong password never does", async () => {
    const alice = await registerUser(ts);
    let expired = 0;
    const onSessionExpired = () => {
      expired += 1;
    };
    const state = { tokens: { ...alice.tokens, accessToken: await expire(alice.tokens.accessToken) } };
    const { api } = sessionClient(state, { onSessionExpired });
    await expectError(
      api.auth.login.mutate({ email: alice.input.email, password: "Wrong-Passw0rd" }),
      "UNAUTHORIZED",
    );
    expect(expired).toBe(0);

    // The session is revoked elsewhere: the refresh is refused, and the app hears it once.
    await ts
      .client({ token: (await ts.client().auth.login.mutate(alice.input)).tokens.accessToken })
      .auth.logoutAll.mutate();
    const results = await Promise.allSettled([
      api.users.me.query(),
      api.users.me.query(),
      api.users.me.query(),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(expired).toBe(1);
    await expect(api.users.me.query()).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });
    expect(expired).toBe(1);
  });

  it("retries a call only once, even when the server still refuses it after a refresh", async () => {
    const alice = await registerUser(ts);
    let refreshToken = alice.tokens.refreshToken;
    const rotated: Tokens[] = [];
    const rec = recordingFetch();
    // An app that forgets to use the new access token: the retry is refused too.
    const api = createAgoraClient({
      url: ts.url,
      fetch: rec.fetch,
      getAccessToken: () => "not-a-jwt",
      refreshToken: () => refreshToken,
      onTokens: (tokens) => {
        rotated.push(tokens);
        refreshToken = tokens.refreshToken;
      },
    });

    await expect(api.users.me.query()).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });
    expect(rec.requests.map((r) => r.paths)).toEqual([["users.me"], ["auth.refresh"], ["users.me"]]);
    expect(rotated).toHaveLength(1);
  });

  it("never refreshes for a failed login or registration", async () => {
    const rec = recordingFetch();
    let asked = 0;
    const api = createAgoraClient({
      url: ts.url,
      fetch: rec.fetch,
      refreshToken: () => {
        asked += 1;
        return "rt_whatever";
      },
      onTokens: () => undefined,
    });
    await expect(
      api.auth.login.mutate({ email: "nobody@example.com", password: "Wrong-passw0rd" }),
    ).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });
    expect(asked).toBe(0);
    expect(rec.calls("auth.refresh")).toHaveLength(0);
  });
});

describe("errors", () => {
  it("narrows to the code and field errors of a BAD_REQUEST", async () => {
    const alice = await registerUser(ts);
    let caught: unknown;
    try {
      await alice.api.markets.create.mutate({ name: "" });
    } catch (error) {
      caught = error;
    }
    expect(isAgoraError(caught)).toBe(true);
    expect(isAgoraError(caught, "CONFLICT")).toBe(false);
    expect(agoraErrorCode(caught)).toBe("BAD_REQUEST");
    if (!isAgoraError(caught, "BAD_REQUEST")) throw new Error("expected a BAD_REQUEST");
    // No optional chaining needed: the code narrowed `data` to present.
    expect(caught.data.httpStatus).toBe(400);
    expect(caught.data.path).toBe("markets.create");
    expect(caught.data.fieldErrors?.name?.length).toBeGreaterThan(0);
  });

  it("tells transport failures (no data) from server errors", async () => {
    const api = createAgoraClient({ url: "http://127.0.0.1:9" });
    const error: unknown = await api.health.live.query().catch((e: unknown) => e);
    expect(isAgoraError(error)).toBe(true);
    expect(isAgoraError(error, "INTERNAL_SERVER_ERROR")).toBe(false);
    expect(agoraErrorCode(error)).toBeNull();
    expect(isAgoraError(new Error("plain"))).toBe(false);
    expect(isAgoraError("BAD_REQUEST")).toBe(false);
  });
});

describe("credentials and headers", () => {
  it("sends the API key as X-Api-Key", async () => {
    const admin = await loginAdmin(ts);
    const { key } = await admin.api.apiKeys.create.mutate({ name: "sdk-test", role: "ADMIN" });
    const rec = recordingFetch();
    const service = createAgoraClient({ url: ts.url, apiKey: key, fetch: rec.fetch });

    const page = await service.users.list.query({ limit: 5 });
    expect(page.total).toBeGreaterThan(0);
    expect(rec.requests[0]?.headers.get("x-api-key")).toBe(key);
    expect(rec.requests[0]?.headers.get("authorization")).toBeNull();

    const wrong = createAgoraClient({ url: ts.url, apiKey: `${key}x` });
    await expect(wrong.users.list.query({})).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });
  });

  it("adds custom headers, static or computed per request", async () => {
    const rec = recordingFetch();
    let n = 0;
    const fixed = createAgoraClient({
      url: ts.url,
      fetch: rec.fetch,
      headers: { "x-request-id": "sdk-fixed-1" },
    });
    const computed = createAgoraClient({
      url: ts.url,
      fetch: rec.fetch,
      headers: async () => {
        await sleep(1);
        n += 1;
        return { "x-request-id": `sdk-computed-${n}` };
      },
    });

    await fixed.health.live.query();
    await computed.health.live.query();
    await computed.health.live.query();

    expect(rec.requests.map((r) => r.headers.get("x-request-id"))).toEqual([
      "sdk-fixed-1",
      "sdk-computed-1",
      "sdk-computed-2",
    ]);
    // The server echoes a valid request id: the header really went out.
    expect(rec.requests.map((r) => r.response?.headers.get("x-request-id"))).toEqual([
      "sdk-fixed-1",
      "sdk-computed-1",
      "sdk-computed-2",
    ]);
  });
});

describe("subscriptions over server-sent events", () => {
  type MarketEvent = SubscriptionEvent<RouterOutputs["markets"]["onEvent"]>;

  /** Subscribes, runs `act` once the stream is open, resolves with the first matching event. */
  function nextEvent(
    api: ReturnType<typeof createAgoraClient>,
    marketId: string,
    act: () => Promise<unknown>,
  ): Promise<MarketEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        subscription.unsubscribe();
        reject(new Error("no event within 10s"));
      }, 10_000);
      const subscription = api.markets.onEvent.subscribe(
        { marketId },
        {
          onStarted() {
            act().catch(reject);
          },
          onData(event) {
            clearTimeout(timer);
            subscription.unsubscribe();
            resolve(event);
          },
          onError(error) {
            clearTimeout(timer);
            reject(error);
          },
        },
      );
    });
  }

  it("delivers market events through the SDK, with credentials and Dates intact", async () => {
    const alice = await registerUser(ts);
    const rec = recordingFetch();
    const api = createAgoraClient({
      url: ts.url,
      fetch: rec.fetch,
      headers: { "x-request-id": "sdk-sse-1" },
      getAccessToken: () => alice.tokens.accessToken,
    });
    // A DRAFT market: only its owner may see it, so the stream must carry her credentials.
    const market = await api.markets.create.mutate({ name: "Live draft" });

    const event = await nextEvent(api, market.id, () =>
      api.markets.update.mutate({ id: market.id, data: { name: "Live renamed" } }),
    );

    expect(event.id).toEqual(expect.any(String));
    expect(event.data.type).toBe("market.updated");
    if (event.data.type !== "market.updated") throw new Error("unexpected event");
    expect(event.data.market.name).toBe("Live renamed");
    expect(event.data.market.updatedAt).toBeInstanceOf(Date);

    // On Node the SSE request goes through the client's fetch and headers too.
    const sse = rec.calls("markets.onEvent");
    expect(sse).toHaveLength(1);
    expect(sse[0]?.headers.get("x-request-id")).toBe("sdk-sse-1");
    expect(JSON.parse(sse[0]?.url.searchParams.get("connectionParams") ?? "{}")).toEqual({
      token: alice.tokens.accessToken,
    });
  });

  it("fails a subscription the caller may not see with NOT_FOUND", async () => {
    const alice = await registerUser(ts);
    const market = await alice.api.markets.create.mutate({ name: "Hidden draft" });
    const anonymous = createAgoraClient({ url: ts.url });

    const error = await nextEvent(anonymous, market.id, () => Promise.resolve()).then(
      () => null,
      (e: unknown) => e,
    );
    expect(agoraErrorCode(error)).toBe("NOT_FOUND");
  });
});

describe("@agora/client/react outside a component", () => {
  it("retries transport failures and 5xx up to 3 times, never an answer in the 4xx range", async () => {
    const notFound = await ts
      .client()
      .markets.byId.query({ id: "no-such-market" })
      .catch((error: unknown) => error);
    expect(agoraErrorCode(notFound)).toBe("NOT_FOUND");
    expect(retryUnlessClientError(0, notFound)).toBe(false);
    const closed = await createAgoraClient({ url: "http://127.0.0.1:9" })
      .health.live.query()
      .catch((error: unknown) => error);
    expect(isAgoraError(closed)).toBe(true);
    expect(agoraErrorCode(closed)).toBeNull();
    expect([0, 1, 2, 3].map((count) => retryUnlessClientError(count, closed))).toEqual([
      true,
      true,
      true,
      false,
    ]);
  });

  it("keeps tokens in the given storage, hands out one object until they change, and tells listeners", async () => {
    const alice = await registerUser(ts);
    const data = new Map<string, string>();
    const storage = {
      getItem: (key: string) => data.get(key) ?? null,
      setItem: (key: string, value: string) => void data.set(key, value),
      removeItem: (key: string) => void data.delete(key),
    };
    const store = createTokenStore({ storage, key: "k" });
    let heard = 0;
    const stop = store.subscribe(() => (heard += 1));
    expect(store.get()).toBeNull();
    store.set(alice.tokens);
    expect(JSON.parse(data.get("k") ?? "null")).toEqual(alice.tokens);
    const first = store.get();
    expect(first).toEqual(alice.tokens);
    expect(store.get()).toBe(first);
    // Another tab rotated the tokens: the store reads them from the storage.
    const rotated = await ts.client().auth.refresh.mutate({ refreshToken: alice.tokens.refreshToken });
    data.set("k", JSON.stringify(rotated));
    expect(store.get()?.refreshToken).toBe(rotated.refreshToken);
    store.set(null);
    expect(data.has("k")).toBe(false);
    expect(heard).toBe(2);
    stop();
  });
});
