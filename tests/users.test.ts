import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, expectFieldErrors } from "./support/errors.js";
import { ADMIN, startTestServer, type TestServer } from "./support/server.js";
import { loginAdmin, registerUser } from "./support/people.js";

let ts: TestServer;
let admin: Awaited<ReturnType<typeof loginAdmin>>;

beforeAll(async () => {
  ts = await startTestServer();
  admin = await loginAdmin(ts);
});
afterAll(async () => {
  await ts.close();
});

describe("first admin (ADMIN_EMAIL / ADMIN_PASSWORD)", () => {
  it("is seeded at startup with the ADMIN role", () => {
    expect(admin.user).toMatchObject({ email: ADMIN.email, username: ADMIN.username, role: "ADMIN" });
  });
});

describe("users.me / users.updateMe", () => {
  it("returns the caller with email; anonymous gets UNAUTHORIZED", async () => {
    const alice = await registerUser(ts);
    expect(await alice.api.users.me.query()).toEqual({
      id: alice.user.id,
      username: alice.input.username,
      name: null,
      role: "USER",
      createdAt: alice.user.createdAt,
      email: alice.input.email,
    });
    await expectError(ts.client().users.me.query(), "UNAUTHORIZED");
  });

  it("updates only the fields given", async () => {
    const alice = await registerUser(ts, { name: "Alice" });
    const renamed = await alice.api.users.updateMe.mutate({
      username: `${alice.input.username.slice(0, 25)}_new`,
    });
    expect(renamed.name).toBe("Alice");
    expect(renamed.username).toBe(`${alice.input.username.slice(0, 25)}_new`);
    const named = await alice.api.users.updateMe.mutate({ name: "Alice Liddell" });
    expect(named).toMatchObject({ name: "Alice Liddell", username: renamed.username });
    const cleared = await alice.api.users.updateMe.mutate({ name: null });
    expect(cleared.name).toBeNull();
  });

  it("refuses a username taken in another case (CONFLICT) and invalid values (BAD_REQUEST)", async () => {
    const alice = await registerUser(ts);
    const bob = await registerUser(ts);
    await expectError(
      bob.api.users.updateMe.mutate({ username: alice.input.username.toUpperCase() }),
      "CONFLICT",
    );
    await expectFieldErrors(bob.api.users.updateMe.mutate({ username: "no spaces" }), ["username"]);
    await expectFieldErrors(bob.api.users.updateMe.mutate({ name: "" }), ["name"]);
    expect((await bob.api.users.me.query()).username).toBe(bob.input.username);
  });
});

describe("users.byId", () => {
  it("shows the email only to that user and admins", async () => {
    const alice = await registerUser(ts);
    const bob = await registerUser(ts);
    const anon = await ts.client().users.byId.query({ id: alice.user.id });
    expect(anon).not.toHaveProperty("email");
    expect(anon.username).toBe(alice.input.username);
    expect(await bob.api.users.byId.query({ id: alice.user.id })).not.toHaveProperty("email");
    expect((await alice.api.users.byId.query({ id: alice.user.id })).email).toBe(alice.input.email);
    expect((await admin.api.users.byId.query({ id: alice.user.id })).email).toBe(alice.input.email);
  });

  it("is NOT_FOUND for an unknown id and BAD_REQUEST for an empty one", async () => {
    await expectError(ts.client().users.byId.query({ id: "does-not-exist" }), "NOT_FOUND");
    await expectFieldErrors(ts.client().users.byId.query({ id: "" }), ["id"]);
  });
});

describe("users.list", () => {
  it("is for admins only", async () => {
    const alice = await registerUser(ts);
    await expectError(ts.client().users.list.query({}), "UNAUTHORIZED");
    await expectError(alice.api.users.list.query({}), "FORBIDDEN");
  });

  it("pages with a stable keyset cursor and a total, newest first", async () => {
    const tag = `pg${Date.now().toString(36)}`;
    const created = [];
    for (let i = 0; i < 5; i += 1) created.push(await registerUser(ts, { username: `${tag}_${i}` }));
    const first = await admin.api.users.list.query({ search: tag, limit: 2 });
    expect(first.total).toBe(5);
    expect(first.items.map((u) => u.username)).toEqual([`${tag}_4`, `${tag}_3`]);
    expect(first.items[0]?.email).toBeDefined();
    expect(first.nextCursor).not.toBeNull();

    // A row inserted between pages does not shift the next page.
    await registerUser(ts, { username: `${tag}_new` });
    const second = await admin.api.users.list.query({
      search: tag,
      limit: 2,
      cursor: first.nextCursor ?? "",
    });
    expect(second.items.map((u) => u.username)).toEqual([`${tag}_2`, `${tag}_1`]);
    expect(second.total).toBe(6);
    const third = await admin.api.users.list.query({
      search: tag,
      limit: 2,
      cursor: second.nextCursor ?? "",
    });
    expect(third.items.map((u) => u.username)).toEqual([`${tag}_0`]);
    expect(third.nextCursor).toBeNull();
  });

  it("searches username, email and name case-insensitively", async () => {
    const tag = `srch${Date.now().toString(36)}`;
    await registerUser(ts, { name: `Zed ${tag.toUpperCase()}` });
    const page = await admin.api.users.list.query({ search: tag });
    expect(page.total).toBe(1);
    expect(page.items[0]?.name).toBe(`Zed ${tag.toUpperCase()}`);
  });

  it("validates limit and cursor", async () => {
    await expectFieldErrors(admin.api.users.list.query({ limit: 0 }), ["limit"]);
    await expectFieldErrors(admin.api.users.list.query({ limit: 101 }), ["limit"]);
    await expectFieldErrors(admin.api.users.list.query({ cursor: "garbage" }), ["cursor"]);
  });
});

describe("users.update", () => {
  it("lets a user update themself, lower-casing a new email", async () => {
    const alice = await registerUser(ts);
    const email = `NEW_${alice.input.email}`;
    const updated = await alice.api.users.update.mutate({ id: alice.user.id, data: { email, name: "A" } });
    expect(updated).toMatchObject({ email: email.toLowerCase(), name: "A" });
    await ts.client().auth.login.mutate({ email, password: alice.input.password });
  });

  it("refuses other users to non-admins (FORBIDDEN: users are visible), NOT_FOUND only for unknown ids; admins update anyone", async () => {
    const alice = await registerUser(ts);
    const bob = await registerUser(ts);
    await expectError(
      bob.api.users.update.mutate({ id: alice.user.id, data: { name: "hacked" } }),
      "FORBIDDEN",
    );
    await expectError(
      bob.api.users.update.mutate({ id: "does-not-exist", data: { name: "x" } }),
      "NOT_FOUND",
    );
    await expectError(
      ts.client().users.update.mutate({ id: alice.user.id, data: { name: "x" } }),
      "UNAUTHORIZED",
    );
    expect((await ts.client().users.byId.query({ id: alice.user.id })).name).toBeNull();
    const byAdmin = await admin.api.users.update.mutate({
      id: alice.user.id,
      data: { name: "Set by admin" },
    });
    expect(byAdmin.name).toBe("Set by admin");
  });

  it("refuses an email that is taken (CONFLICT) or invalid (BAD_REQUEST)", async () => {
    const alice = await registerUser(ts);
    const bob = await registerUser(ts);
    const err = await expectError(
      bob.api.users.update.mutate({ id: bob.user.id, data: { email: alice.input.email.toUpperCase() } }),
      "CONFLICT",
    );
    expect(err.message).toMatch(/email/i);
    await expectFieldErrors(bob.api.users.update.mutate({ id: bob.user.id, data: { email: "bad" } }), [
      "data.email",
    ]);
    await expectError(admin.api.users.update.mutate({ id: "missing", data: { name: "x" } }), "NOT_FOUND");
  });
});

describe("users.setRole", () => {
  it("promotes at once: the user's existing token gains admin rights", async () => {
    const alice = await registerUser(ts);
    await expectError(alice.api.users.list.query({}), "FORBIDDEN");
    const promoted = await admin.api.users.setRole.mutate({ id: alice.user.id, role: "ADMIN" });
    expect(promoted.role).toBe("ADMIN");
    expect((await alice.api.users.list.query({ limit: 1 })).items).toHaveLength(1);
    await admin.api.users.setRole.mutate({ id: alice.user.id, role: "USER" });
    await expectError(alice.api.users.list.query({}), "FORBIDDEN");
  });

  it("is admin-only, validates the role, and never demotes the last admin", async () => {
    const alice = await registerUser(ts);
    await expectError(alice.api.users.setRole.mutate({ id: alice.user.id, role: "ADMIN" }), "FORBIDDEN");
    await expectFieldErrors(
      admin.api.users.setRole.mutate({ id: alice.user.id, role: "ROOT" as unknown as "ADMIN" }),
      ["role"],
    );
    await expectError(admin.api.users.setRole.mutate({ id: "missing", role: "ADMIN" }), "NOT_FOUND");
    await expectError(admin.api.users.setRole.mutate({ id: admin.user.id, role: "USER" }), "CONFLICT");
    expect((await admin.api.users.me.query()).role).toBe("ADMIN");
  });
});

describe("users.delete", () => {
  it("deletes a user, whose tokens then stop working", async () => {
    const alice = await registerUser(ts);
    await expectError(alice.api.users.delete.mutate({ id: alice.user.id }), "FORBIDDEN");
    expect(await admin.api.users.delete.mutate({ id: alice.user.id })).toEqual({ success: true });
    await expectError(ts.client().users.byId.query({ id: alice.user.id }), "NOT_FOUND");
    await expectError(alice.api.users.me.query(), "UNAUTHORIZED");
    await expectError(
      ts.client().auth.refresh.mutate({ refreshToken: alice.tokens.refreshToken }),
      "UNAUTHORIZED",
    );
    await expectError(admin.api.users.delete.mutate({ id: alice.user.id }), "NOT_FOUND");
  });

  it("refuses to delete the last admin", async () => {
    await expectError(admin.api.users.delete.mutate({ id: admin.user.id }), "CONFLICT");
  });
});

describe("apiKeys", () => {
  it("creates a key shown once, lists keys without secrets, and authenticates with X-Api-Key", async () => {
    const created = await admin.api.apiKeys.create.mutate({ name: "billing service", role: "ADMIN" });
    expect(created.key).toMatch(/^agk_/);
    const listed = await admin.api.apiKeys.list.query();
    const row = listed.find((k) => k.id === created.id);
    expect(row).toMatchObject({ name: "billing service", role: "ADMIN", revokedAt: null });
    expect(JSON.stringify(listed)).not.toContain(created.key);
    expect(created.key.startsWith(row?.prefix ?? "-")).toBe(true);

    const service = ts.client({ apiKey: created.key });
    const page = await service.users.list.query({ limit: 1 });
    expect(page.total).toBeGreaterThan(0);
    // An API key is not a person: "me" procedures are refused.
    await expectError(service.users.me.query(), "FORBIDDEN");
    expect(
      (await admin.api.apiKeys.list.query()).find((k) => k.id === created.id)?.lastUsedAt,
    ).toBeInstanceOf(Date);
  });

  it("a USER key cannot call admin procedures; revoked, expired and unknown keys are UNAUTHORIZED", async () => {
    const userKey = await admin.api.apiKeys.create.mutate({ name: "reader" });
    await expectError(ts.client({ apiKey: userKey.key }).users.list.query({}), "FORBIDDEN");

    const doomed = await admin.api.apiKeys.create.mutate({ name: "doomed", role: "ADMIN" });
    expect(await admin.api.apiKeys.revoke.mutate({ id: doomed.id })).toEqual({ success: true });
    await expectError(ts.client({ apiKey: doomed.key }).users.list.query({}), "UNAUTHORIZED");

    const expiring = await admin.api.apiKeys.create.mutate({
      name: "expiring",
      role: "ADMIN",
      expiresAt: new Date(Date.now() + 60_000),
    });
    await ts.server.infra.database.prisma.apiKey.update({
      where: { id: expiring.id },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    await expectError(ts.client({ apiKey: expiring.key }).users.list.query({}), "UNAUTHORIZED");
    await expectError(ts.client({ apiKey: "agk_not-a-real-key" }).users.list.query({}), "UNAUTHORIZED");
  });

  it("a key is a service credential: it keeps its role when the admin who created it is demoted", async () => {
    const carol = await registerUser(ts);
    await admin.api.users.setRole.mutate({ id: carol.user.id, role: "ADMIN" });
    const made = await carol.api.apiKeys.create.mutate({ name: "carol's service", role: "ADMIN" });
    await admin.api.users.setRole.mutate({ id: carol.user.id, role: "USER" });
    await expectError(carol.api.users.list.query({}), "FORBIDDEN");
    const service = ts.client({ apiKey: made.key });
    expect((await service.users.list.query({ limit: 1 })).total).toBeGreaterThan(0);
    const row = (await admin.api.apiKeys.list.query()).find((k) => k.id === made.id);
    expect(row).toMatchObject({ role: "ADMIN", revokedAt: null });
  });

  it("is admin-only and validates input", async () => {
    const alice = await registerUser(ts);
    await expectError(alice.api.apiKeys.create.mutate({ name: "mine" }), "FORBIDDEN");
    await expectError(alice.api.apiKeys.list.query(), "FORBIDDEN");
    await expectError(ts.client().apiKeys.revoke.mutate({ id: "x" }), "UNAUTHORIZED");
    await expectFieldErrors(admin.api.apiKeys.create.mutate({ name: "" }), ["name"]);
    await expectFieldErrors(
      admin.api.apiKeys.create.mutate({ name: "past", expiresAt: new Date(Date.now() - 1000) }),
      ["expiresAt"],
    );
    await expectError(admin.api.apiKeys.revoke.mutate({ id: "missing" }), "NOT_FOUND");
  });
});
