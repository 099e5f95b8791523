import { Writable } from "node:stream";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@agora/server/testing";
import { expectError, expectFieldErrors } from "./support/errors.js";
import { signTestToken } from "./support/tokens.js";
import { startTestServer, TEST_AUDIENCE, TEST_ISSUER, type TestServer } from "./support/server.js";
import { newUserInput, registerUser } from "./support/people.js";

let ts: TestServer;
const logLines: string[] = [];

beforeAll(async () => {
  // Capture every log line at the most verbose level, to prove no secret reaches the logs.
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString());
      done();
    },
  });
  ts = await startTestServer({}, { log: createLogger("trace", sink) });
});
afterAll(async () => {
  await ts.close();
});

describe("auth.register", () => {
  it("creates a user, lower-cases the email and returns working tokens", async () => {
    const input = newUserInput({ name: "Alice Example" });
    const { user, tokens } = await ts
      .client()
      .auth.register.mutate({ ...input, email: input.email.toUpperCase() });
    expect(user).toMatchObject({
      username: input.username,
      name: "Alice Example",
      role: "USER",
      email: input.email,
    });
    expect(user.createdAt).toBeInstanceOf(Date);
    expect(tokens.tokenType).toBe("Bearer");
    expect(tokens.expiresIn).toBe(900);
    expect(tokens.refreshToken).not.toContain(".");

    const claims = decodeJwt(tokens.accessToken);
    expect(claims).toMatchObject({ sub: user.id, role: "USER", iss: TEST_ISSUER, aud: TEST_AUDIENCE });
    expect(typeof claims.jti).toBe("string");
    expect(claims.exp).toBe((claims.iat ?? 0) + 900);

    const me = await ts.client({ token: tokens.accessToken }).users.me.query();
    expect(me.id).toBe(user.id);
    expect(JSON.stringify(me)).not.toMatch(/password/i);
  });

  it("rejects duplicate email (any case) and duplicate username (any case) with CONFLICT", async () => {
    const first = newUserInput();
    await ts.client().auth.register.mutate(first);
    const byEmail = await expectError(
      ts.client().auth.register.mutate(newUserInput({ email: first.email.toUpperCase() })),
      "CONFLICT",
    );
    expect(byEmail.message).toMatch(/email/i);
    const byUsername = await expectError(
      ts.client().auth.register.mutate(newUserInput({ username: first.username.toUpperCase() })),
      "CONFLICT",
    );
    expect(byUsername.message).toMatch(/username/i);
  });

  it.each([
    ["email", { email: "not-an-email" }],
    ["username", { username: "ab" }],
    ["username", { username: "a".repeat(31) }],
    ["username", { username: "bad-name!" }],
    ["password", { password: "Sh0rt" }],
    ["password", { password: "alllowercase1" }],
    ["password", { password: "ALLUPPERCASE1" }],
    ["password", { password: "NoDigitsHere" }],
    ["name", { name: "x".repeat(101) }],
  ])("rejects an invalid %s with BAD_REQUEST and fieldErrors", async (field, override) => {
    const fieldErrors = await expectFieldErrors(ts.client().auth.register.mutate(newUserInput(override)), [
      field,
    ]);
    expect(Object.keys(fieldErrors)).toEqual([field]);
  });

  it("rejects passwords over 72 bytes instead of truncating them, counting UTF-8 bytes", async () => {
    const ascii73 = `Aa1${"x".repeat(70)}`;
    const fe = await expectFieldErrors(
      ts.client().auth.register.mutate(newUserInput({ password: ascii73 })),
      ["password"],
    );
    expect(fe.password?.join(" ")).toMatch(/72 bytes/);
    // 27 characters but 75 bytes: "€" is three bytes in UTF-8.
    const multibyte = `Aa1${"€".repeat(24)}`;
    await expectFieldErrors(ts.client().auth.register.mutate(newUserInput({ password: multibyte })), [
      "password",
    ]);
    // Exactly 72 bytes is accepted.
    const ok = await ts.client().auth.register.mutate(newUserInput({ password: `Aa1${"x".repeat(69)}` }));
    expect(ok.user.id).toBeTruthy();
  });

  it("never creates the user when validation fails", async () => {
    const input = newUserInput({ password: "weak" });
    await expectError(ts.client().auth.register.mutate(input), "BAD_REQUEST");
    await expectError(
      ts.client().auth.login.mutate({ email: input.email, password: "weak" }),
      "UNAUTHORIZED",
    );
  });
});

describe("auth.login", () => {
  it("logs in with the right password, email in any case", async () => {
    const alice = await registerUser(ts);
    const { user, tokens } = await ts
      .client()
      .auth.login.mutate({ email: alice.input.email.toUpperCase(), password: alice.input.password });
    expect(user.id).toBe(alice.user.id);
    expect(user.email).toBe(alice.input.email);
    expect((await ts.client({ token: tokens.accessToken }).users.me.query()).id).toBe(alice.user.id);
  });

  it("gives one UNAUTHORIZED message for a wrong password and an unknown email", async () => {
    const alice = await registerUser(ts);
    const wrongPassword = await expectError(
      ts.client().auth.login.mutate({ email: alice.input.email, password: "Wrong-Passw0rd" }),
      "UNAUTHORIZED",
    );
    const unknownEmail = await expectError(
      ts
        .client()
        .auth.login.mutate({ email: `nobody_${Date.now()}@example.com`, password: "Wrong-Passw0rd" }),
      "UNAUTHORIZED",
    );
    expect(wrongPassword.message).toBe(unknownEmail.message);
    expect(wrongPassword.message).toBe("Invalid email or password");
  });

  it("refuses a password longer than 72 bytes whose first 72 bytes are right, as it refuses a wrong one", async () => {
    // bcrypt compares only the first 72 bytes: without the length rule these would pass.
    const exact72 = `Aa1${"x".repeat(69)}`;
    const alice = await registerUser(ts, { password: exact72 });
    const wrong = await expectError(
      ts.client().auth.login.mutate({ email: alice.input.email, password: "Wrong-Passw0rd" }),
      "UNAUTHORIZED",
    );
    for (const extra of ["y", "€"]) {
      const tooLong = await expectError(
        ts.client().auth.login.mutate({ email: alice.input.email, password: exact72 + extra }),
        "UNAUTHORIZED",
      );
      expect(tooLong.message).toBe(wrong.message);
      expect(tooLong.data?.fieldErrors).toEqual(wrong.data?.fieldErrors);
    }
    const ok = await ts.client().auth.login.mutate({ email: alice.input.email, password: exact72 });
    expect(ok.user.id).toBe(alice.user.id);
  });

  it("validates its input", async () => {
    await expectFieldErrors(ts.client().auth.login.mutate({ email: "nope", password: "" }), [
      "email",
      "password",
    ]);
  });
});

describe("access tokens", () => {
  it("rejects missing, expired, tampered, alg-none, foreign-audience, foreign-issuer and foreign-key tokens", async () => {
    const alice = await registerUser(ts);
    const sid = decodeJwt(alice.tokens.accessToken).sid;
    const base = { sub: alice.user.id, role: "USER", sid };

    // Sanity: a token we sign the same way as the server is accepted, so each rejection below
    // is caused by the one thing that differs.
    const good = await signTestToken(base);
    expect((await ts.client({ token: good }).users.me.query()).id).toBe(alice.user.id);

    const [header, payload] = alice.tokens.accessToken.split(".");
    const forgedPayload = Buffer.from(
      JSON.stringify({ ...decodeJwt(alice.tokens.accessToken), role: "ADMIN" }),
    ).toString("base64url");
    const algNone = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${payload ?? ""}.`;

    const bad: Record<string, string | null> = {
      missing: null,
      expired: await signTestToken(base, { exp: Math.floor(Date.now() / 1000) - 10 }),
      tampered: `${header ?? ""}.${forgedPayload}.${alice.tokens.accessToken.split(".")[2] ?? ""}`,
      algNone,
      wrongAudience: await signTestToken(base, { aud: "someone-else" }),
      wrongIssuer: await signTestToken(base, { iss: "evil" }),
      wrongKey: await signTestToken(base, {
        secret: new TextEncoder().encode("another-secret-another-secret-another!!"),
      }),
      garbage: "not.a.jwt",
    };
    for (const [name, token] of Object.entries(bad)) {
      const err = await expectError(ts.client({ token }).users.me.query(), "UNAUTHORIZED");
      expect(err.message, name).toMatch(token === null ? /Authentication required/ : /Invalid or expired/);
    }
  });

  it("stops accepting a token at its expiry, though it was accepted (and remembered) before", async () => {
    const alice = await registerUser(ts);
    const sid = decodeJwt(alice.tokens.accessToken).sid;
    const exp = Math.floor(Date.now() / 1000) + 2;
    const token = await signTestToken({ sub: alice.user.id, role: "USER", sid }, { exp });
    const client = ts.client({ token });
    expect((await client.users.me.query()).id).toBe(alice.user.id);
    expect((await client.users.me.query()).id).toBe(alice.user.id);
    await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 50));
    const err = await expectError(client.users.me.query(), "UNAUTHORIZED");
    expect(err.message).toMatch(/Invalid or expired/);
  });

  it("issues tokens with the configured lifetime (ACCESS_TOKEN_TTL_SECONDS)", async () => {
    const short = await startTestServer({ ACCESS_TOKEN_TTL_SECONDS: "10" });
    try {
      const bob = await registerUser(short);
      expect(bob.tokens.expiresIn).toBe(10);
      const claims = decodeJwt(bob.tokens.accessToken);
      expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(10);
      expect((await bob.api.users.me.query()).id).toBe(bob.user.id);
    } finally {
      await short.close();
    }
  });
});

describe("auth.refresh", () => {
  it("rotates: returns new tokens, and the old refresh token is spent", async () => {
    const alice = await registerUser(ts);
    const next = await ts.client().auth.refresh.mutate({ refreshToken: alice.tokens.refreshToken });
    expect(next.refreshToken).not.toBe(alice.tokens.refreshToken);
    expect(next.accessToken).not.toBe(alice.tokens.accessToken);
    expect((await ts.client({ token: next.accessToken }).users.me.query()).id).toBe(alice.user.id);
    const third = await ts.client().auth.refresh.mutate({ refreshToken: next.refreshToken });
    expect(third.refreshToken).not.toBe(next.refreshToken);
  });

  it("re-use of a spent refresh token revokes the whole session family", async () => {
    const alice = await registerUser(ts);
    const rotated = await ts.client().auth.refresh.mutate({ refreshToken: alice.tokens.refreshToken });
    // An attacker replays the old one:
    await expectError(
      ts.client().auth.refresh.mutate({ refreshToken: alice.tokens.refreshToken }),
      "UNAUTHORIZED",
    );
    // ...and now the legitimate holder's newer tokens of that session are dead too.
    await expectError(
      ts.client().auth.refresh.mutate({ refreshToken: rotated.refreshToken }),
      "UNAUTHORIZED",
    );
    await expectError(ts.client({ token: rotated.accessToken }).users.me.query(), "UNAUTHORIZED");
    await expectError(ts.client({ token: alice.tokens.accessToken }).users.me.query(), "UNAUTHORIZED");
    // Other sessions of the same user are untouched.
    const other = await ts
      .client()
      .auth.login.mutate({ email: alice.input.email, password: alice.input.password });
    expect((await ts.client({ token: other.tokens.accessToken }).users.me.query()).id).toBe(alice.user.id);
  });

  it("rejects unknown and expired refresh tokens", async () => {
    await expectError(ts.client().auth.refresh.mutate({ refreshToken: "made-up-token" }), "UNAUTHORIZED");
    await expectFieldErrors(ts.client().auth.refresh.mutate({ refreshToken: "" }), ["refreshToken"]);
    const alice = await registerUser(ts);
    await ts.server.infra.database.prisma.refreshToken.updateMany({
      where: { session: { userId: alice.user.id } },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    await expectError(
      ts.client().auth.refresh.mutate({ refreshToken: alice.tokens.refreshToken }),
      "UNAUTHORIZED",
    );
  });

  it("two tabs refreshing with one token at once both get the same new refresh token, and the session lives on", async () => {
    const alice = await registerUser(ts);
    // Each tab sends the access token it holds (of that session), as the SDK does.
    const tab = () =>
      ts
        .client({ token: alice.tokens.accessToken })
        .auth.refresh.mutate({ refreshToken: alice.tokens.refreshToken });
    const [a, b] = await Promise.all([tab(), tab()]);
    expect(a.refreshToken).toBe(b.refreshToken);
    for (const tokens of [a, b]) {
      expect((await ts.client({ token: tokens.accessToken }).users.me.query()).id).toBe(alice.user.id);
    }
    // A third repeat, still within the window, gets it too; the new token then rotates as usual.
    expect((await tab()).refreshToken).toBe(a.refreshToken);
    const next = await ts.client().auth.refresh.mutate({ refreshToken: a.refreshToken });
    expect((await ts.client({ token: next.accessToken }).users.me.query()).id).toBe(alice.user.id);
  });

  it("a repeat after the grace window, or with another session's access token, revokes the session", async () => {
    const repeatAfterWindow = async (alice: Awaited<ReturnType<typeof registerUser>>) => {
      // The rotation happened a minute ago (the window is REFRESH_TOKEN_REUSE_GRACE_SECONDS, 5 s).
      await ts.server.infra.database.prisma.refreshToken.updateMany({
        where: { session: { userId: alice.user.id }, usedAt: { not: null } },
        data: { usedAt: new Date(Date.now() - 60_000) },
      });
      return ts
        .client({ token: alice.tokens.accessToken })
        .auth.refresh.mutate({ refreshToken: alice.tokens.refreshToken });
    };
    const alice = await registerUser(ts);
    const rotated = await ts.client().auth.refresh.mutate({ refreshToken: alice.tokens.refreshToken });
    await expectError(repeatAfterWindow(alice), "UNAUTHORIZED");
    await expectError(
      ts.client().auth.refresh.mutate({ refreshToken: rotated.refreshToken }),
      "UNAUTHORIZED",
    );
    await expectError(ts.client({ token: rotated.accessToken }).users.me.query(), "UNAUTHORIZED");

    const bob = await registerUser(ts);
    const mallory = await registerUser(ts);
    const bobRotated = await ts.client().auth.refresh.mutate({ refreshToken: bob.tokens.refreshToken });
    await expectError(
      ts
        .client({ token: mallory.tokens.accessToken })
        .auth.refresh.mutate({ refreshToken: bob.tokens.refreshToken }),
      "UNAUTHORIZED",
    );
    await expectError(ts.client({ token: bobRotated.accessToken }).users.me.query(), "UNAUTHORIZED");
  });

  it("of two concurrent refreshes with one token and no access token, at most one succeeds", async () => {
    const alice = await registerUser(ts);
    const results = await Promise.allSettled([
      ts.client().auth.refresh.mutate({ refreshToken: alice.tokens.refreshToken }),
      ts.client().auth.refresh.mutate({ refreshToken: alice.tokens.refreshToken }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled").length).toBeLessThanOrEqual(1);
    expect(results.filter((r) => r.status === "rejected").length).toBeGreaterThanOrEqual(1);
  });
});

describe("auth.logout / logoutAll", () => {
  it("logout ends that session only (its refresh and access tokens)", async () => {
    const alice = await registerUser(ts);
    const second = await ts
      .client()
      .auth.login.mutate({ email: alice.input.email, password: alice.input.password });
    expect(await alice.api.auth.logout.mutate({ refreshToken: alice.tokens.refreshToken })).toEqual({
      success: true,
    });
    await expectError(
      ts.client().auth.refresh.mutate({ refreshToken: alice.tokens.refreshToken }),
      "UNAUTHORIZED",
    );
    await expectError(alice.api.users.me.query(), "UNAUTHORIZED");
    expect((await ts.client({ token: second.tokens.accessToken }).users.me.query()).id).toBe(alice.user.id);
  });

  it("logout cannot end someone else's session", async () => {
    const alice = await registerUser(ts);
    const mallory = await registerUser(ts);
    expect(await mallory.api.auth.logout.mutate({ refreshToken: alice.tokens.refreshToken })).toEqual({
      success: true,
    });
    expect((await alice.api.users.me.query()).id).toBe(alice.user.id);
    await ts.client().auth.refresh.mutate({ refreshToken: alice.tokens.refreshToken });
  });

  it("logout and logoutAll need a signed-in user", async () => {
    await expectError(ts.client().auth.logout.mutate({ refreshToken: "x" }), "UNAUTHORIZED");
    await expectError(ts.client().auth.logoutAll.mutate(), "UNAUTHORIZED");
  });

  it("logoutAll kills every existing access and refresh token", async () => {
    const alice = await registerUser(ts);
    const second = await ts
      .client()
      .auth.login.mutate({ email: alice.input.email, password: alice.input.password });
    expect(await alice.api.auth.logoutAll.mutate()).toEqual({ success: true });
    for (const token of [alice.tokens.accessToken, second.tokens.accessToken]) {
      await expectError(ts.client({ token }).users.me.query(), "UNAUTHORIZED");
    }
    for (const refreshToken of [alice.tokens.refreshToken, second.tokens.refreshToken]) {
      await expectError(ts.client().auth.refresh.mutate({ refreshToken }), "UNAUTHORIZED");
    }
    // Signing in again works straight away.
    const again = await ts
      .client()
      .auth.login.mutate({ email: alice.input.email, password: alice.input.password });
    expect((await ts.client({ token: again.tokens.accessToken }).users.me.query()).id).toBe(alice.user.id);
  });
});

describe("auth.changePassword", () => {
  it("changes the password, keeps this session and revokes the others", async () => {
    const alice = await registerUser(ts);
    const other = await ts
      .client()
      .auth.login.mutate({ email: alice.input.email, password: alice.input.password });
    await alice.api.auth.changePassword.mutate({
      currentPassword: alice.input.password,
      newPassword: "NewPassw0rd!",
    });

    expect((await alice.api.users.me.query()).id).toBe(alice.user.id);
    await ts.client().auth.refresh.mutate({ refreshToken: alice.tokens.refreshToken });
    await expectError(ts.client({ token: other.tokens.accessToken }).users.me.query(), "UNAUTHORIZED");
    await expectError(
      ts.client().auth.refresh.mutate({ refreshToken: other.tokens.refreshToken }),
      "UNAUTHORIZED",
    );

    await expectError(
      ts.client().auth.login.mutate({ email: alice.input.email, password: alice.input.password }),
      "UNAUTHORIZED",
    );
    await ts.client().auth.login.mutate({ email: alice.input.email, password: "NewPassw0rd!" });
  });

  it("refuses a current password longer than 72 bytes whose first 72 bytes are right", async () => {
    const exact72 = `Aa1${"x".repeat(69)}`;
    const alice = await registerUser(ts, { password: exact72 });
    for (const extra of ["y", "€"]) {
      const fe = await expectFieldErrors(
        alice.api.auth.changePassword.mutate({
          currentPassword: exact72 + extra,
          newPassword: "NewPassw0rd!",
        }),
        ["currentPassword"],
      );
      expect(fe.currentPassword).toEqual(["Current password is incorrect"]);
    }
    // Nothing changed: the old password still signs in, the new one does not.
    await expectError(
      ts.client().auth.login.mutate({ email: alice.input.email, password: "NewPassw0rd!" }),
      "UNAUTHORIZED",
    );
    await alice.api.auth.changePassword.mutate({ currentPassword: exact72, newPassword: "NewPassw0rd!" });
    await ts.client().auth.login.mutate({ email: alice.input.email, password: "NewPassw0rd!" });
  });

  it("rejects a wrong current password and a weak new one, changing nothing", async () => {
    const alice = await registerUser(ts);
    await expectFieldErrors(
      alice.api.auth.changePassword.mutate({
        currentPassword: "Wrong-Passw0rd",
        newPassword: "NewPassw0rd!",
      }),
      ["currentPassword"],
    );
    await expectFieldErrors(
      alice.api.auth.changePassword.mutate({ currentPassword: alice.input.password, newPassword: "weak" }),
      ["newPassword"],
    );
    await ts.client().auth.login.mutate({ email: alice.input.email, password: alice.input.password });
    await expectError(
      ts.client().auth.changePassword.mutate({ currentPassword: "x", newPassword: "NewPassw0rd!" }),
      "UNAUTHORIZED",
    );
  });
});

describe("password reset", () => {
  it("mails a single-use token that resets the password and revokes all sessions", async () => {
    const alice = await registerUser(ts);
    const before = ts.mailer.sent.length;
    expect(
      await ts.client().auth.requestPasswordReset.mutate({ email: alice.input.email.toUpperCase() }),
    ).toEqual({
      success: true,
    });
    const mail = await ts.waitForMail(alice.input.email, before);
    const token = /Reset token: (\S+)/.exec(mail.text)?.[1];
    expect(token).toBeTruthy();
    // The link carries the same token, to the configured public URL.
    const link = new URL(/Or open: (\S+)/.exec(mail.text)?.[1] ?? "");
    expect(link.searchParams.get("token")).toBe(token);

    await ts.client().auth.resetPassword.mutate({ token: token ?? "", newPassword: "ResetPassw0rd" });
    await expectError(alice.api.users.me.query(), "UNAUTHORIZED");
    await expectError(
      ts.client().auth.refresh.mutate({ refreshToken: alice.tokens.refreshToken }),
      "UNAUTHORIZED",
    );
    await ts.client().auth.login.mutate({ email: alice.input.email, password: "ResetPassw0rd" });

    // Single use.
    await expectFieldErrors(
      ts.client().auth.resetPassword.mutate({ token: token ?? "", newPassword: "Another1Pass" }),
      ["token"],
    );
  });

  it("does the same work for unknown emails as for known ones (one job each), sending nothing to them", async () => {
    const queued = async () => {
      const counts = await ts.server.services.jobs.counts();
      const queue = counts.find((q) => q.queue === "password-reset-mail");
      return queue ? queue.created + queue.retry + queue.active + queue.completed + queue.failed : -1;
    };
    const alice = await registerUser(ts);
    const ghost = `ghost_${Date.now()}@example.com`;
    const mailsBefore = ts.mailer.sent.length;
    const before = await queued();
    expect(await ts.client().auth.requestPasswordReset.mutate({ email: ghost })).toEqual({ success: true });
    const afterUnknown = await queued();
    expect(await ts.client().auth.requestPasswordReset.mutate({ email: alice.input.email })).toEqual({
      success: true,
    });
    const afterKnown = await queued();
    expect([afterUnknown - before, afterKnown - afterUnknown]).toEqual([1, 1]);
    await ts.waitForMail(alice.input.email, mailsBefore);
    await ts.waitForIdleJobs();
    expect(ts.mailer.sent.slice(mailsBefore).map((m) => m.to)).toEqual([alice.input.email]);
  });

  it("a reset withdraws the user's other outstanding reset tokens", async () => {
    const alice = await registerUser(ts);
    const tokens: string[] = [];
    for (let i = 0; i < 2; i += 1) {
      const before = ts.mailer.sent.length;
      await ts.client().auth.requestPasswordReset.mutate({ email: alice.input.email });
      tokens.push(
        /Reset token: (\S+)/.exec((await ts.waitForMail(alice.input.email, before)).text)?.[1] ?? "",
      );
    }
    const [first = "", second = ""] = tokens;
    await ts.client().auth.resetPassword.mutate({ token: second, newPassword: "ResetPassw0rd" });
    await expectFieldErrors(
      ts.client().auth.resetPassword.mutate({ token: first, newPassword: "Another1Pass" }),
      ["token"],
    );
    await ts.client().auth.login.mutate({ email: alice.input.email, password: "ResetPassw0rd" });
  });

  it("a password change withdraws outstanding reset tokens", async () => {
    const alice = await registerUser(ts);
    const before = ts.mailer.sent.length;
    await ts.client().auth.requestPasswordReset.mutate({ email: alice.input.email });
    const token =
      /Reset token: (\S+)/.exec((await ts.waitForMail(alice.input.email, before)).text)?.[1] ?? "";
    await alice.api.auth.changePassword.mutate({
      currentPassword: alice.input.password,
      newPassword: "NewPassw0rd!",
    });
    await expectFieldErrors(ts.client().auth.resetPassword.mutate({ token, newPassword: "ResetPassw0rd" }), [
      "token",
    ]);
    await ts.client().auth.login.mutate({ email: alice.input.email, password: "NewPassw0rd!" });
  });

  it("rejects unknown and expired tokens and weak passwords", async () => {
    await expectFieldErrors(
      ts.client().auth.resetPassword.mutate({ token: "nope", newPassword: "ResetPassw0rd" }),
      ["token"],
    );
    const alice = await registerUser(ts);
    const before = ts.mailer.sent.length;
    await ts.client().auth.requestPasswordReset.mutate({ email: alice.input.email });
    const token =
      /Reset token: (\S+)/.exec((await ts.waitForMail(alice.input.email, before)).text)?.[1] ?? "";
    await expectFieldErrors(ts.client().auth.resetPassword.mutate({ token, newPassword: "weak" }), [
      "newPassword",
    ]);
    await ts.server.infra.database.prisma.passwordResetToken.updateMany({
      where: { userId: alice.user.id },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    await expectFieldErrors(ts.client().auth.resetPassword.mutate({ token, newPassword: "ResetPassw0rd" }), [
      "token",
    ]);
    await ts.client().auth.login.mutate({ email: alice.input.email, password: alice.input.password });
  });
});

describe("logs", () => {
  it("have one access line per request: its id, method, path without the query string, status and time", async () => {
    const parsed = () =>
      logLines
        .join("")
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Record<string, unknown> & { req?: { id?: string } });
    const refused = await fetch(`${ts.url}/trpc/users.me?input=%7B%22json%22%3Anull%7D`, {
      headers: { "x-request-id": "access-line-401", authorization: "Bearer not-a-token" },
    });
    expect(refused.status).toBe(401);
    const served = await fetch(`${ts.url}/trpc/health.live`, {
      headers: { "x-request-id": "access-line-200" },
    });
    expect(served.status).toBe(200);
    // A /trpc request the fast handler passes on to express (HEAD) is still logged once.
    const passedOn = await fetch(`${ts.url}/trpc/health.live`, {
      method: "HEAD",
      headers: { "x-request-id": "access-line-head" },
    });
    expect(passedOn.headers.get("x-request-id")).toBe("access-line-head");
    await expect.poll(() => parsed().filter((l) => l.req?.id?.startsWith("access-line-")).length).toBe(3);
    expect(parsed().filter((l) => l.req?.id === "access-line-head")).toEqual([
      expect.objectContaining({ req: { id: "access-line-head", method: "HEAD", url: "/trpc/health.live" } }),
    ]);
    const [warn] = parsed().filter((l) => l.req?.id === "access-line-401");
    expect(warn).toMatchObject({
      level: 40,
      msg: "request completed",
      req: { id: "access-line-401", method: "GET", url: "/trpc/users.me" },
      res: { statusCode: 401 },
    });
    expect(warn?.responseTime).toEqual(expect.any(Number));
    const [info] = parsed().filter((l) => l.req?.id === "access-line-200");
    expect(info).toMatchObject({ level: 30, req: { url: "/trpc/health.live" }, res: { statusCode: 200 } });
    expect(logLines.join("")).not.toContain("not-a-token");
  });

  it("never contain passwords or tokens", async () => {
    const input = newUserInput({ password: "Sup3rSecretPassw0rd" });
    const { tokens } = await ts.client().auth.register.mutate(input);
    await ts.client({ token: tokens.accessToken }).users.me.query();
    const rotated = await ts.client().auth.refresh.mutate({ refreshToken: tokens.refreshToken });
    await expectError(
      ts.client().auth.login.mutate({ email: input.email, password: "Wr0ngPassword" }),
      "UNAUTHORIZED",
    );
    const all = logLines.join("");
    expect(logLines.length).toBeGreaterThan(0);
    expect(all).toContain("request completed");
    for (const secret of [
      input.password,
      "Wr0ngPassword",
      tokens.accessToken,
      tokens.refreshToken,
      rotated.accessToken,
      rotated.refreshToken,
    ]) {
      expect(all).not.toContain(secret);
    }
  });
});
