import { afterAll, beforeAll, expect, it } from "vitest";
import { registerUser, startTestServer, type TestServer } from "./support/server.js";

let ts: TestServer;
beforeAll(async () => {
  ts = await startTestServer();
});
afterAll(async () => {
  await ts.close();
});

it("registers and reads me", async () => {
  const alice = await registerUser(ts);
  const me = await alice.api.users.me.query();
  expect(me.id).toBe(alice.user.id);
  expect(me.email).toBe(alice.input.email);
});
