import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createAgoraClient } from "@agora/client";
import { loadConfig, startServer } from "@agora/server/testing";
import { TEST_JWT_SECRET } from "./support/server.js";

// The zero-setup default: no DATABASE_URL, an empty data folder. The server must start the
// embedded database, apply the committed migrations itself, serve, and keep the data.
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "agora-embedded-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const config = () =>
  loadConfig({
    NODE_ENV: "test",
    HOST: "127.0.0.1",
    PORT: "0",
    LOG_LEVEL: "silent",
    BCRYPT_COST: "4",
    JWT_SECRET: TEST_JWT_SECRET,
    DATA_DIR: path.join(dir, "data"),
  });

it("starts on an empty data dir, migrates, serves, and keeps data across restarts", async () => {
  const first = await startServer(config());
  let userId: string;
  try {
    expect(first.infra.database.embedded).toBe(true);
    const api = createAgoraClient({ url: first.url });
    const { user, tokens } = await api.auth.register.mutate({
      email: "first@example.com",
      username: "first_user",
      password: "Passw0rdGood",
    });
    userId = user.id;
    const me = await createAgoraClient({
      url: first.url,
      getAccessToken: () => tokens.accessToken,
    }).users.me.query();
    expect(me.id).toBe(user.id);

    // A second server on the same data folder must refuse to start rather than corrupt it.
    await expect(startServer(config())).rejects.toThrow(/in use/);
  } finally {
    await first.close();
  }

  const second = await startServer(config());
  try {
    const api = createAgoraClient({ url: second.url });
    expect((await api.users.byId.query({ id: userId })).username).toBe("first_user");
    const login = await api.auth.login.mutate({ email: "first@example.com", password: "Passw0rdGood" });
    expect(login.user.id).toBe(userId);
  } finally {
    await second.close();
  }
}, 120_000);
