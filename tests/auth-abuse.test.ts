// Abuse resistance of signing in: the bcrypt queue (who may fill it, who waits in it, what a
// full one does to later calls and to the logs), the limits on password procedures, and what
// a caller can learn about which emails have accounts.
import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agoraErrorCode, createAgoraClient, type AgoraClient } from "@agora/client";
import { createLogger } from "@agora/server/testing";
import { startTestServer, type TestServer } from "./support/server.js";
import { newUserInput, registerUser, type UserSession } from "./support/people.js";

/** What a call answered: "OK" or its error code. */
function outcome(call: Promise<unknown>): Promise<string> {
  return call.then(
    () => "OK",
    (error: unknown) => agoraErrorCode(error) ?? String(error),
  );
}

/** Resolves once one of `calls` answered `code`, or once all have answered. */
function firstAnswer(calls: Promise<string>[], code: string): Promise<unknown> {
  return Promise.race([
    Promise.all(calls),
    ...calls.map((call) => call.then((answer) => (answer === code ? answer : new Promise(() => undefined)))),
  ]);
}

const ghostEmail = () => `ghost_${randomUUID()}@example.com`;
const WRONG = "Wrong-Passw0rd";

/** The bcrypt work the server has done so far. */
function work(ts: TestServer): { hashes: number; compares: number } {
  return ts.server.infra.passwords.stats();
}

async function workOf(
  ts: TestServer,
  call: () => Promise<unknown>,
): Promise<{ hashes: number; compares: number }> {
  const before = work(ts);
  await call().catch(() => undefined);
  const after = work(ts);
  return { hashes: after.hashes - before.hashes, compares: after.compares - before.compares };
}

describe("unknown emails cost what known ones do", () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer();
  });
  afterAll(async () => {
    await ts.close();
  });

  it("one bcrypt comparison and nothing else, from the very first sign-in with an unknown email", async () => {
    const alice = await registerUser(ts);
    const unknown = await workOf(ts, () =>
      ts.client().auth.login.mutate({ email: ghostEmail(), password: WRONG }),
    );
    const known = await workOf(ts, () =>
      ts.client().auth.login.mutate({ email: alice.input.email, password: WRONG }),
    );
    expect(unknown).toEqual({ hashes: 0, compares: 1 });
    expect(known).toEqual(unknown);
  });
});

describe("a full bcrypt queue", () => {
  let ts: TestServer;
  let alice: UserSession;
  beforeAll(async () => {
    // One comparison at a time, one waiting, at a cost that keeps the queue full for a while.
    ts = await startTestServer({ PASSWORD_QUEUE_MAX: "1", BCRYPT_COST: "12" });
    alice = await registerUser(ts);
  });
  afterAll(async () => {
    await ts.close();
  });

  it("does not leave unknown emails answered SERVICE_UNAVAILABLE once it has drained", async () => {
    const wrong = () => outcome(ts.client().auth.login.mutate({ email: alice.input.email, password: WRONG }));
    const ghost = () => outcome(ts.client().auth.login.mutate({ email: ghostEmail(), password: WRONG }));
    const burst = Array.from({ length: 6 }, wrong);
    // Once one is refused, the queue is full: the first unknown email this server sees arrives now.
    await firstAnswer(burst, "SERVICE_UNAVAILABLE");
    const duringBurst = await ghost();
    const burstAnswers = await Promise.all(burst);
    expect(burstAnswers).toContain("SERVICE_UNAVAILABLE");
    expect(["SERVICE_UNAVAILABLE", "UNAUTHORIZED"]).toContain(duringBurst);
    // Drained: unknown emails are answered as a wrong password is.
    const after = [await ghost(), await ghost(), await ghost(), await wrong()];
    expect(after).toEqual(["UNAUTHORIZED", "UNAUTHORIZED", "UNAUTHORIZED", "UNAUTHORIZED"]);
  });
});

describe("the overload log line", () => {
  const lines: string[] = [];
  let ts: TestServer;
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    ts = await startTestServer(
      { PASSWORD_QUEUE_MAX: "1", BCRYPT_COST: "12" },
      { log: createLogger("info", sink) },
    );
  });
  afterAll(async () => {
    await ts.close();
  });

  it("says the bcrypt queue is full, once per interval, without a stack", async () => {
    const alice = await registerUser(ts);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        outcome(ts.client().auth.login.mutate({ email: alice.input.email, password: WRONG })),
      ),
    );
    const refused = answers.filter((a) => a === "SERVICE_UNAVAILABLE").length;
    expect(refused).toBeGreaterThanOrEqual(2);
    const parsed = lines
      .join("")
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { msg?: string; err?: { stack?: string }; refused?: number });
    expect(parsed.filter((l) => l.msg === "database unavailable")).toEqual([]);
    const overload = parsed.filter((l) => /bcrypt queue is full/.test(l.msg ?? ""));
    expect(overload).toHaveLength(1);
    expect(overload[0]?.err).toBeUndefined();
    expect(JSON.stringify(overload)).not.toMatch(/stack|at .*\.ts/);
    expect(overload[0]?.refused).toBe(1);
  });
});

describe("who may fill the bcrypt queue", () => {
  let ts: TestServer;
  let alice: UserSession;
  beforeAll(async () => {
    ts = await startTestServer({ PASSWORD_QUEUE_MAX: "3", BCRYPT_COST: "10" });
    alice = await registerUser(ts);
  });
  afterAll(async () => {
    await ts.close();
  });

  it("resetPassword with a wrong token hashes nothing, so a flood of them leaves sign-ins alone", async () => {
    const before = work(ts);
    const resets = Array.from({ length: 12 }, () =>
      outcome(ts.client().auth.resetPassword.mutate({ token: "x", newPassword: "Reset-Passw0rd" })),
    );
    await firstAnswer(resets, "SERVICE_UNAVAILABLE");
    const login = await outcome(
      ts.client().auth.login.mutate({ email: alice.input.email, password: alice.input.password }),
    );
    expect(login).toBe("OK");
    expect(await Promise.all(resets)).toEqual(Array.from({ length: 12 }, () => "BAD_REQUEST"));
    expect(work(ts).hashes - before.hashes).toBe(0);
  });

  it("registrations wait in their own queue, behind sign-ins", async () => {
    let settled = 0;
    const registrations = Array.from({ length: 12 }, () =>
      outcome(ts.client().auth.register.mutate(newUserInput())).finally(() => {
        settled += 1;
      }),
    );
    // Once one is refused, registrations have filled their queue.
    await firstAnswer(registrations, "SERVICE_UNAVAILABLE");
    const login = await outcome(
      ts.client().auth.login.mutate({ email: alice.input.email, password: alice.input.password }),
    );
    const waitingWhenSignedIn = registrations.length - settled;
    const answers = await Promise.all(registrations);
    expect(login).toBe("OK");
    expect(answers).toContain("SERVICE_UNAVAILABLE");
    expect(answers).toContain("OK");
    // The sign-in was compared before the registrations that were already waiting were hashed.
    expect(waitingWhenSignedIn).toBeGreaterThanOrEqual(2);
  });
});

describe("limits on signing in and on password procedures", () => {
  let ts: TestServer;
  let ipCounter = 0;
  const newIp = () => {
    ipCounter += 1;
    return `10.77.${String(Math.floor(ipCounter / 250))}.${String((ipCounter % 250) + 1)}`;
  };
  /** A client whose calls come from `ip` (through a trusted proxy). */
  const from = (ip: string, token?: string): AgoraClient =>
    createAgoraClient({
      url: ts.url,
      getAccessToken: () => token ?? null,
      headers: { "x-forwarded-for": ip },
    });

  beforeAll(async () => {
    ts = await startTestServer({
      RATE_LIMIT_ENABLED: "true",
      TRUST_PROXY: "true",
      RATE_LIMIT_MAX: "100000",
      RATE_LIMIT_REGISTER_MAX: "100000",
      RATE_LIMIT_PASSWORD_RESET_MAX: "100000",
      RATE_LIMIT_LOGIN_MAX: "4",
      RATE_LIMIT_LOGIN_EMAIL_IP_MAX: "2",
      RATE_LIMIT_LOGIN_EMAIL_MAX: "6",
      RATE_LIMIT_PASSWORD_CHANGE_MAX: "2",
      RATE_LIMIT_PASSWORD_RESET_EMAIL_MAX: "2",
    });
  });
  afterAll(async () => {
    await ts.close();
  });

  it("wrong passwords from one IP do not lock the owner out from another", async () => {
    const alice = await registerUser(ts);
    const attacker = from(newIp());
    const attempts: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      attempts.push(await outcome(attacker.auth.login.mutate({ email: alice.input.email, password: WRONG })));
    }
    const owner = await outcome(
      from(newIp()).auth.login.mutate({ email: alice.input.email, password: alice.input.password }),
    );
    expect(owner).toBe("OK");
    // The attacker's IP is refused for this email after RATE_LIMIT_LOGIN_EMAIL_IP_MAX failures.
    expect(attempts).toEqual(["UNAUTHORIZED", "UNAUTHORIZED", "TOO_MANY_REQUESTS", "TOO_MANY_REQUESTS"]);
  });

  it("successful sign-ins count towards no per-email limit", async () => {
    const alice = await registerUser(ts);
    const answers: string[] = [];
    for (let i = 0; i < 8; i += 1) {
      answers.push(
        await outcome(
          from(newIp()).auth.login.mutate({ email: alice.input.email, password: alice.input.password }),
        ),
      );
    }
    expect(answers).toEqual(Array.from({ length: 8 }, () => "OK"));
  });

  it("a successful sign-in clears the failures of its (email, IP); failures from many IPs trip the per-email limit", async () => {
    const alice = await registerUser(ts);
    const ip = from(newIp());
    const login = (client: AgoraClient, password: string) =>
      outcome(client.auth.login.mutate({ email: alice.input.email, password }));
    expect([await login(ip, WRONG), await login(ip, alice.input.password), await login(ip, WRONG)]).toEqual([
      "UNAUTHORIZED",
      "OK",
      "UNAUTHORIZED",
    ]);
    // Two failures so far; four more from four IPs reach RATE_LIMIT_LOGIN_EMAIL_MAX (6).
    const spread: string[] = [];
    for (let i = 0; i < 4; i += 1) spread.push(await login(from(newIp()), WRONG));
    expect(spread).toEqual(["UNAUTHORIZED", "UNAUTHORIZED", "UNAUTHORIZED", "UNAUTHORIZED"]);
    const refused = await from(newIp())
      .auth.login.mutate({ email: alice.input.email, password: WRONG })
      .catch((error: unknown) => error);
    expect(agoraErrorCode(refused)).toBe("TOO_MANY_REQUESTS");
  });

  it("limits resetPassword and changePassword per IP", async () => {
    const resetter = from(newIp());
    const resets: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      resets.push(
        await outcome(resetter.auth.resetPassword.mutate({ token: "x", newPassword: "Reset-Passw0rd" })),
      );
    }
    expect(resets).toEqual(["BAD_REQUEST", "BAD_REQUEST", "TOO_MANY_REQUESTS"]);

    const bob = await registerUser(ts);
    const bobFromOneIp = from(newIp(), bob.tokens.accessToken);
    const changes: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      changes.push(
        await outcome(
          bobFromOneIp.auth.changePassword.mutate({ currentPassword: WRONG, newPassword: "NewPassw0rd!" }),
        ),
      );
    }
    expect(changes).toEqual(["BAD_REQUEST", "BAD_REQUEST", "TOO_MANY_REQUESTS"]);
    // Another IP is not affected.
    await from(newIp(), bob.tokens.accessToken).auth.changePassword.mutate({
      currentPassword: bob.input.password,
      newPassword: "NewPassw0rd!",
    });
  });

  it("caps reset mails per email across IPs, answering known and unknown emails alike", async () => {
    const alice = await registerUser(ts);
    const ghost = ghostEmail();
    const before = ts.mailer.sent.length;
    const known: string[] = [];
    const unknown: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      known.push(await outcome(from(newIp()).auth.requestPasswordReset.mutate({ email: alice.input.email })));
      unknown.push(await outcome(from(newIp()).auth.requestPasswordReset.mutate({ email: ghost })));
    }
    expect(known).toEqual(["OK", "OK", "TOO_MANY_REQUESTS", "TOO_MANY_REQUESTS"]);
    expect(unknown).toEqual(known);
    await ts.waitForIdleJobs();
    expect(ts.mailer.sent.slice(before).filter((m) => m.to === alice.input.email)).toHaveLength(2);
    expect(ts.mailer.sent.slice(before).filter((m) => m.to === ghost)).toHaveLength(0);
  });
});

describe("Server-Timing in production", () => {
  it("is rounded to 100 ms by default, so a lookup's few milliseconds do not show", async () => {
    const production = await startTestServer({ NODE_ENV: "production", SHUTDOWN_DELAY_MS: "0" });
    try {
      for (const path of ["/trpc/health.live", "/healthz"]) {
        const res = await fetch(`${production.url}${path}`);
        expect(res.status).toBe(200);
        expect(res.headers.get("server-timing")).toMatch(/^app;dur=(0|[1-9]\d*00)$/);
      }
    } finally {
      await production.close();
    }
  });
});
