import { createHash } from "node:crypto";
import http from "node:http";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agoraErrorCode, createAgoraClient } from "@agora/client";
import { EventSource, type EventSourceInit } from "eventsource";
import { createMarket, subscriptionError, watchMarket } from "./support/marketplace.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { loginAdmin, registerUser } from "./support/people.js";

// Event streams (SSE) against callers who would hold them: how many one address or account
// may hold, how long one lasts, what a resume may replay, and that a stream never outlives the
// session it was opened with.

const codeOf = (error: unknown) => agoraErrorCode(error);

describe("limits on open streams", () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({
      SSE_MAX_STREAMS_PER_IP: "3",
      SSE_MAX_STREAMS_PER_USER: "2",
      SSE_REPLAY_MAX: "5",
      HTTP_MAX_CONNECTIONS: "16",
    });
  });
  afterAll(async () => {
    await ts.close();
  });

  it("caps the streams of one account and of one address, and frees a place when one closes", async () => {
    const user = await registerUser(ts);
    const token = user.tokens.accessToken;
    const market = await createMarket(user.api);
    const first = await watchMarket(ts, { marketId: market.id }, token);
    const second = await watchMarket(ts, { marketId: market.id }, token);
    expect(codeOf(await subscriptionError(ts, { marketId: market.id }, token))).toBe("TOO_MANY_REQUESTS");
    // The address has one place left, which an anonymous stream takes.
    const third = await watchMarket(ts, { marketId: market.id });
    expect(codeOf(await subscriptionError(ts, { marketId: market.id }))).toBe("TOO_MANY_REQUESTS");
    expect(ts.server.services.streams.size).toBe(3);

    first.close();
    await expect.poll(() => ts.server.services.streams.size).toBe(2);
    const again = await watchMarket(ts, { marketId: market.id }, token);
    // Streams that work deliver as before.
    await user.api.markets.update.mutate({ id: market.id, data: { name: "Renamed" } });
    for (const stream of [second, third, again]) {
      expect((await stream.next(1))[0]?.data).toMatchObject({ type: "market.updated" });
      stream.close();
    }
    await expect.poll(() => ts.server.services.streams.size).toBe(0);
  });

  it("replays at most SSE_REPLAY_MAX events on a resume: the newest ones", async () => {
    const user = await registerUser(ts);
    const market = await createMarket(user.api);
    const live = await watchMarket(ts, { marketId: market.id }, user.tokens.accessToken);
    for (let i = 0; i < 12; i += 1) {
      await user.api.markets.update.mutate({ id: market.id, data: { description: `v${String(i)}` } });
    }
    const all = await live.next(12);
    live.close();
    const resumed = await watchMarket(
      ts,
      { marketId: market.id, lastEventId: all[0]?.id ?? null },
      user.tokens.accessToken,
    );
    const replayed = await resumed.next(5);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(resumed.events.map((e) => e.id)).toEqual(all.slice(-5).map((e) => e.id));
    expect(replayed).toHaveLength(5);
    resumed.close();
  });

  it("closes connections past HTTP_MAX_CONNECTIONS at once, and accepts again once some close", async () => {
    const { port } = new URL(ts.url);
    const sockets: net.Socket[] = [];
    for (let i = 0; i < 16; i += 1) {
      const socket = net.connect(Number(port), "127.0.0.1");
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", reject);
      });
      sockets.push(socket);
    }
    // A request on a connection of its own (not one kept alive from before).
    const probe = () =>
      new Promise<string>((resolve) => {
        http
          .get(`${ts.url}/healthz`, { agent: false }, (res) => {
            res.resume();
            resolve(String(res.statusCode));
          })
          .on("error", () => {
            resolve("refused");
          });
      });
    expect(await probe()).toBe("refused");
    for (const socket of sockets) socket.destroy();
    await expect.poll(probe, { timeout: 5000 }).toBe("200");
  });
});

describe("subscription tickets keep the access token out of stream URLs", () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer();
  });
  afterAll(async () => {
    await ts.close();
  });

  it("opens one stream per ticket; spent, expired and revoked tickets are UNAUTHORIZED", async () => {
    const user = await registerUser(ts);
    const market = await createMarket(user.api);

    // The SDK in ticket mode: the URL it opens holds a ticket, never the access token.
    const urls: string[] = [];
    class RecordingEventSource extends EventSource {
      constructor(url: string | URL, init?: EventSourceInit) {
        urls.push(String(url));
        super(url, init);
      }
    }
    const sdk = createAgoraClient({
      url: ts.url,
      getAccessToken: () => user.tokens.accessToken,
      subscriptionAuth: "ticket",
      EventSource: RecordingEventSource,
    });
    const seen: string[] = [];
    let started = false;
    const stream = sdk.markets.onEvent.subscribe(
      { marketId: market.id },
      {
        onStarted: () => {
          started = true;
        },
        onData: (event) => {
          if (event.data.type === "market.updated") seen.push(event.data.market.name);
        },
      },
    );
    await expect.poll(() => started).toBe(true);
    await user.api.markets.update.mutate({ id: market.id, data: { name: "Seen through a ticket" } });
    await expect.poll(() => seen).toEqual(["Seen through a ticket"]);
    stream.unsubscribe();
    expect(urls).toHaveLength(1);
    const opened = new URL(urls[0] ?? "");
    expect(opened.search).not.toContain(user.tokens.accessToken);
    const params = JSON.parse(opened.searchParams.get("connectionParams") ?? "{}") as Record<string, string>;
    expect(Object.keys(params)).toEqual(["ticket"]);
    const spent = params.ticket ?? "";
    expect(spent).toMatch(/^st_/);
    // Stored only as its SHA-256, like every other secret.
    const { prisma } = ts.server.infra.database;
    const hashOf = (ticket: string) => createHash("sha256").update(ticket).digest("hex");

    // Spent: a URL replayed from a log opens nothing.
    expect(codeOf(await subscriptionError(ts, { marketId: market.id }, { ticket: spent }))).toBe(
      "UNAUTHORIZED",
    );
    expect(await prisma.subscriptionTicket.count({ where: { tokenHash: hashOf(spent) } })).toBe(0);

    // Expired: issued, then left longer than its 30 s; the cleanup job removes such rows.
    const stale = await user.api.auth.subscriptionTicket.mutate();
    expect(stale.expiresIn).toBe(30);
    await prisma.subscriptionTicket.update({
      where: { tokenHash: hashOf(stale.ticket) },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    const leftover = await user.api.auth.subscriptionTicket.mutate();
    await prisma.subscriptionTicket.update({
      where: { tokenHash: hashOf(leftover.ticket) },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    expect(codeOf(await subscriptionError(ts, { marketId: market.id }, { ticket: stale.ticket }))).toBe(
      "UNAUTHORIZED",
    );
    expect((await ts.server.services.auth.cleanupExpired()).subscriptionTickets).toBeGreaterThanOrEqual(1);
    expect(await prisma.subscriptionTicket.count({ where: { tokenHash: hashOf(leftover.ticket) } })).toBe(0);

    // Its session ended after it was issued: refused, like the access token would be.
    const other = await registerUser(ts);
    const orphan = await other.api.auth.subscriptionTicket.mutate();
    await other.api.auth.logoutAll.mutate();
    expect(codeOf(await subscriptionError(ts, { marketId: market.id }, { ticket: orphan.ticket }))).toBe(
      "UNAUTHORIZED",
    );

    // A live ticket works once from a plain client too; the access-token way still works.
    const fresh = await user.api.auth.subscriptionTicket.mutate();
    const viaTicket = await watchMarket(ts, { marketId: market.id }, { ticket: fresh.ticket });
    const viaToken = await watchMarket(ts, { marketId: market.id }, user.tokens.accessToken);
    await user.api.markets.update.mutate({ id: market.id, data: { name: "Both ways" } });
    for (const live of [viaTicket, viaToken]) {
      expect((await live.next(1))[0]?.data).toMatchObject({ type: "market.updated" });
      live.close();
    }
  });
});

describe("a stream lasts no longer than its credentials", () => {
  let ts: TestServer;
  beforeAll(async () => {
    // The shortest access tokens the configuration allows.
    ts = await startTestServer({ ACCESS_TOKEN_TTL_SECONDS: "10" });
  });
  afterAll(async () => {
    await ts.close();
  });

  it("ends with UNAUTHORIZED when the access token expires; the SDK refreshes and resumes", async () => {
    const user = await registerUser(ts);
    const market = await createMarket(user.api);
    const started = Date.now();
    const plain = await watchMarket(ts, { marketId: market.id }, user.tokens.accessToken);

    // The SDK with a refresh token: its stream goes on across the expiry.
    const tokens = { ...user.tokens };
    const sdk = createAgoraClient({
      url: ts.url,
      getAccessToken: () => tokens.accessToken,
      refreshToken: () => tokens.refreshToken,
      onTokens: (next) => {
        Object.assign(tokens, next);
      },
    });
    const seen: string[] = [];
    const sdkStream = sdk.markets.onEvent.subscribe(
      { marketId: market.id },
      {
        onData: (event) => {
          if (event.data.type === "market.updated") seen.push(event.data.market.description ?? "");
        },
      },
    );

    expect(codeOf(await plain.error(20_000))).toBe("UNAUTHORIZED");
    expect(Date.now() - started).toBeGreaterThanOrEqual(8_000);
    // After the expiry, and after the next one, the SDK's stream still delivers.
    const writer = () => ts.client().auth.login.mutate(user.input);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    let api = ts.client({ token: (await writer()).tokens.accessToken });
    await api.markets.update.mutate({ id: market.id, data: { description: "after expiry" } });
    await expect.poll(() => seen, { timeout: 10_000 }).toContain("after expiry");
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    api = ts.client({ token: (await writer()).tokens.accessToken });
    await api.markets.update.mutate({ id: market.id, data: { description: "after the second expiry" } });
    await expect.poll(() => seen, { timeout: 10_000 }).toContain("after the second expiry");
    sdkStream.unsubscribe();
  }, 90_000);
});

describe("a stream ends with the session it was opened with", () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer();
  });
  afterAll(async () => {
    await ts.close();
  });

  it("ends a user's streams on logoutAll, a password change (other sessions) and deletion", async () => {
    const owner = await registerUser(ts);
    const market = await createMarket(owner.api);

    const viewer = await registerUser(ts);
    const onLogout = await watchMarket(ts, { marketId: market.id }, viewer.tokens.accessToken);
    await viewer.api.auth.logoutAll.mutate();
    expect(codeOf(await onLogout.error())).toBe("UNAUTHORIZED");

    const changer = await registerUser(ts);
    const other = await ts.client().auth.login.mutate(changer.input);
    const onOtherSession = await watchMarket(ts, { marketId: market.id }, other.tokens.accessToken);
    const onOwnSession = await watchMarket(ts, { marketId: market.id }, changer.tokens.accessToken);
    await changer.api.auth.changePassword.mutate({
      currentPassword: changer.input.password,
      newPassword: "Another-Passw0rd",
    });
    expect(codeOf(await onOtherSession.error())).toBe("UNAUTHORIZED");
    // The session that changed the password stays signed in, and so does its stream.
    await owner.api.markets.update.mutate({ id: market.id, data: { name: "Still here" } });
    expect((await onOwnSession.next(1))[0]?.data).toMatchObject({ type: "market.updated" });
    onOwnSession.close();

    const deleted = await registerUser(ts);
    const onDelete = await watchMarket(ts, { marketId: market.id }, deleted.tokens.accessToken);
    const admin = await loginAdmin(ts);
    await admin.api.users.delete.mutate({ id: deleted.user.id });
    expect(codeOf(await onDelete.error())).toBe("UNAUTHORIZED");
    await expect.poll(() => ts.server.services.streams.size).toBe(0);
  });

  it("ends a demoted admin's stream of a DRAFT market; reopened, it is NOT_FOUND", async () => {
    const owner = await registerUser(ts);
    const draft = await createMarket(owner.api, { status: "DRAFT" });
    const admin = await loginAdmin(ts);
    const helper = await registerUser(ts);
    await admin.api.users.setRole.mutate({ id: helper.user.id, role: "ADMIN" });
    const asAdmin = await ts.client().auth.login.mutate(helper.input);
    const stream = await watchMarket(ts, { marketId: draft.id }, asAdmin.tokens.accessToken);

    await admin.api.users.setRole.mutate({ id: helper.user.id, role: "USER" });
    expect(codeOf(await stream.error())).toBe("UNAUTHORIZED");
    // The same session, its role now read afresh: the draft is hidden.
    const again = await subscriptionError(ts, { marketId: draft.id }, asAdmin.tokens.accessToken);
    expect(codeOf(again)).toBe("NOT_FOUND");
  });
});
