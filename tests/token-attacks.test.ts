// Attacks on credentials, beyond what auth.test.ts covers (alg none, expiry, a tampered
// payload, foreign audience, issuer or key, refresh-token reuse by a replayer, reset-token
// reuse): algorithm confusion, not-yet-valid tokens, missing claims, claims that do not fit
// the session, tokens of one kind used as another, theft detection the other way round,
// racing reset tokens, API keys after revocation and expiry or of the wrong shape, and the
// shapes an Authorization header can take.
import { createHmac, randomBytes } from "node:crypto";
import http from "node:http";
import { decodeJwt, exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agoraErrorCode, type AgoraClient } from "@agora/client";
import { expectError } from "./support/errors.js";
import {
  startTestServer,
  TEST_AUDIENCE,
  TEST_ISSUER,
  TEST_JWT_SECRET,
  type TestServer,
} from "./support/server.js";
import { loginAdmin, registerUser, type UserSession } from "./support/people.js";

let ts: TestServer;
let admin: AgoraClient;
let alice: UserSession;
const secret = new TextEncoder().encode(TEST_JWT_SECRET);

beforeAll(async () => {
  ts = await startTestServer();
  admin = (await loginAdmin(ts)).api;
  alice = await registerUser(ts);
});
afterAll(async () => {
  await ts.close();
});

const now = () => Math.floor(Date.now() / 1000);

type Claims = Record<string, unknown>;

/** The claims of a valid access token of `session`, as the server would sign them. */
function claimsOf(session: { tokens: { accessToken: string } }): Claims {
  const { sub, role, sid } = decodeJwt(session.tokens.accessToken);
  return {
    sub,
    role,
    sid,
    iss: TEST_ISSUER,
    aud: TEST_AUDIENCE,
    iat: now(),
    exp: now() + 300,
    jti: crypto.randomUUID(),
  };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** An HMAC-signed token of exactly these claims (none added, any types), by default as the server signs. */
function sign(claims: Claims, key: Uint8Array = secret, alg: "HS256" | "HS384" | "HS512" = "HS256"): string {
  const input = `${b64({ alg, typ: "JWT" })}.${b64(claims)}`;
  const digest = { HS256: "sha256", HS384: "sha384", HS512: "sha512" }[alg];
  return `${input}.${createHmac(digest, key).update(input).digest("base64url")}`;
}

/** An RS256 token of these claims, signed with an attacker's private key. */
function signRs256(
  claims: Claims,
  privateKey: CryptoKey,
  header: Record<string, unknown> = {},
): Promise<string> {
  const payload: JWTPayload = { ...claims };
  return new SignJWT(payload).setProtectedHeader({ ...header, alg: "RS256", typ: "JWT" }).sign(privateKey);
}

/** What `users.me` answers with this bearer token: the user's id, or the error code. */
async function whoAmI(token: string): Promise<string> {
  try {
    return (await ts.client({ token }).users.me.query()).id;
  } catch (error) {
    return agoraErrorCode(error) ?? String(error);
  }
}

describe("access tokens: algorithms", () => {
  it("accepts the control token, so each refusal below is caused by its one difference", async () => {
    expect(await whoAmI(sign(claimsOf(alice)))).toBe(alice.user.id);
  });

  it("refuses RS256, with or without the attacker's public key in the header (jwk injection)", async () => {
    const { privateKey, publicKey } = await generateKeyPair("RS256");
    const jwk = await exportJWK(publicKey);
    expect(await whoAmI(await signRs256(claimsOf(alice), privateKey))).toBe("UNAUTHORIZED");
    expect(await whoAmI(await signRs256(claimsOf(alice), privateKey, { jwk }))).toBe("UNAUTHORIZED");
  });

  it("refuses HS256 signed with a public key PEM as the secret (RS/HS confusion)", async () => {
    const { publicKey } = await generateKeyPair("RS256", { extractable: true });
    const pem = new TextEncoder().encode(await exportSPKI(publicKey));
    expect(await whoAmI(sign(claimsOf(alice), pem))).toBe("UNAUTHORIZED");
  });

  it("refuses other HMAC algorithms even with the right secret, and every spelling of none", async () => {
    expect(await whoAmI(sign(claimsOf(alice), secret, "HS384"))).toBe("UNAUTHORIZED");
    expect(await whoAmI(sign(claimsOf(alice), secret, "HS512"))).toBe("UNAUTHORIZED");
    for (const alg of ["none", "None", "NONE", "nOnE"]) {
      const unsigned = `${b64({ alg, typ: "JWT" })}.${b64(claimsOf(alice))}.`;
      expect(await whoAmI(unsigned), alg).toBe("UNAUTHORIZED");
      // With the real signature of other claims glued on: still not a valid token.
      const glued = `${b64({ alg, typ: "JWT" })}.${b64(claimsOf(alice))}.${alice.tokens.accessToken.split(".")[2] ?? ""}`;
      expect(await whoAmI(glued), alg).toBe("UNAUTHORIZED");
    }
  });
});

describe("access tokens: time", () => {
  it("refuses a token not yet valid (nbf ahead) and accepts it once nbf has passed", async () => {
    expect(await whoAmI(sign({ ...claimsOf(alice), nbf: now() + 3600 }))).toBe("UNAUTHORIZED");
    expect(await whoAmI(sign({ ...claimsOf(alice), nbf: now() - 5 }))).toBe(alice.user.id);
  });

  it("refuses a token issued in the future (iat ahead), allowing a few seconds of clock skew", async () => {
    const ahead = { ...claimsOf(alice), iat: now() + 3600, exp: now() + 7200 };
    expect(await whoAmI(sign(ahead))).toBe("UNAUTHORIZED");
    // Another instance whose clock runs 2 s ahead signed this one: fine.
    expect(await whoAmI(sign({ ...claimsOf(alice), iat: now() + 2 }))).toBe(alice.user.id);
  });
});

describe("access tokens: claims", () => {
  it.each(["sub", "sid", "role", "jti", "iat", "exp", "iss", "aud"])(
    "refuses a token without %s",
    async (claim) => {
      const { [claim]: _dropped, ...claims } = claimsOf(alice);
      expect(await whoAmI(sign(claims))).toBe("UNAUTHORIZED");
    },
  );

  it("refuses unknown roles and claims of the wrong type", async () => {
    const base = claimsOf(alice);
    for (const claims of [
      { ...base, role: "ROOT" },
      { ...base, role: "admin" },
      { ...base, sub: 42 },
      { ...base, sid: ["a", "b"] },
      { ...base, exp: "never" },
    ]) {
      expect(await whoAmI(sign(claims)), JSON.stringify(claims)).toBe("UNAUTHORIZED");
    }
  });

  it("takes the role from the session, never from a (validly signed) token claiming ADMIN", async () => {
    const forged = sign({ ...claimsOf(alice), role: "ADMIN" });
    const api = ts.client({ token: forged });
    expect((await api.users.me.query()).role).toBe("USER");
    await expectError(api.users.list.query({}), "FORBIDDEN");
    await expectError(api.users.setRole.mutate({ id: alice.user.id, role: "ADMIN" }), "FORBIDDEN");
    expect((await admin.users.byId.query({ id: alice.user.id })).role).toBe("USER");
  });

  it("refuses a token whose session belongs to someone else, or to nobody", async () => {
    const mallory = await registerUser(ts);
    const adminSession = await loginAdmin(ts);
    const { sid: adminSid } = decodeJwt(adminSession.tokens.accessToken);
    const { sid: mallorySid } = decodeJwt(mallory.tokens.accessToken);
    // The admin's id on Mallory's live session, and Mallory's id on the admin's live session.
    expect(await whoAmI(sign({ ...claimsOf(mallory), sub: adminSession.user.id, role: "ADMIN" }))).toBe(
      "UNAUTHORIZED",
    );
    expect(await whoAmI(sign({ ...claimsOf(mallory), sid: adminSid }))).toBe("UNAUTHORIZED");
    expect(await whoAmI(sign({ ...claimsOf(mallory), sid: "no-such-session" }))).toBe("UNAUTHORIZED");
    // Both sessions are untouched by the attempts.
    expect(await whoAmI(mallory.tokens.accessToken)).toBe(mallory.user.id);
    expect(mallorySid).not.toBe(adminSid);
    expect((await adminSession.api.users.me.query()).role).toBe("ADMIN");
  });
});

describe("tokens of one kind used as another", () => {
  it("refuses refresh tokens, reset tokens and API keys as access tokens, and the reverse", async () => {
    const bob = await registerUser(ts);
    const { key } = await admin.apiKeys.create.mutate({ name: "cross-use", role: "ADMIN" });
    const before = ts.mailer.sent.length;
    await ts.client().auth.requestPasswordReset.mutate({ email: bob.input.email });
    const resetToken =
      /Reset token: (\S+)/.exec((await ts.waitForMail(bob.input.email, before)).text)?.[1] ?? "";

    for (const token of [bob.tokens.refreshToken, resetToken, key]) {
      expect(await whoAmI(token)).toBe("UNAUTHORIZED");
    }
    await expectError(ts.client({ apiKey: bob.tokens.accessToken }).users.me.query(), "UNAUTHORIZED");
    await expectError(ts.client({ apiKey: bob.tokens.refreshToken }).markets.list.query({}), "UNAUTHORIZED");
    for (const refreshToken of [bob.tokens.accessToken, resetToken, key]) {
      await expectError(ts.client().auth.refresh.mutate({ refreshToken }), "UNAUTHORIZED");
    }
    for (const token of [bob.tokens.refreshToken, bob.tokens.accessToken]) {
      await expectError(
        ts.client().auth.resetPassword.mutate({ token, newPassword: "Reset-Passw0rd" }),
        "BAD_REQUEST",
      );
    }
    // None of it cost Bob anything: his session and his password still work.
    expect(await whoAmI(bob.tokens.accessToken)).toBe(bob.user.id);
    await ts.client().auth.login.mutate({ email: bob.input.email, password: bob.input.password });
  });
});

describe("refresh and reset tokens", () => {
  it("a thief who refreshes first loses the session when the victim presents the spent token", async () => {
    const victim = await registerUser(ts);
    const stolen = victim.tokens.refreshToken;
    const thief = await ts.client().auth.refresh.mutate({ refreshToken: stolen });
    expect(await whoAmI(thief.accessToken)).toBe(victim.user.id);

    await expectError(ts.client().auth.refresh.mutate({ refreshToken: stolen }), "UNAUTHORIZED");
    expect(await whoAmI(thief.accessToken)).toBe("UNAUTHORIZED");
    await expectError(ts.client().auth.refresh.mutate({ refreshToken: thief.refreshToken }), "UNAUTHORIZED");
    expect(await whoAmI(victim.tokens.accessToken)).toBe("UNAUTHORIZED");
  });

  it("a reset token used twice at once resets the password once", async () => {
    const carol = await registerUser(ts);
    const before = ts.mailer.sent.length;
    await ts.client().auth.requestPasswordReset.mutate({ email: carol.input.email });
    const token =
      /Reset token: (\S+)/.exec((await ts.waitForMail(carol.input.email, before)).text)?.[1] ?? "";
    const passwords = ["First-Passw0rd", "Second-Passw0rd"];
    const results = await Promise.allSettled(
      passwords.map((newPassword) => ts.client().auth.resetPassword.mutate({ token, newPassword })),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const winner = passwords[results.findIndex((r) => r.status === "fulfilled")] ?? "";
    const loser = passwords.find((p) => p !== winner) ?? "";
    await ts.client().auth.login.mutate({ email: carol.input.email, password: winner });
    await expectError(
      ts.client().auth.login.mutate({ email: carol.input.email, password: loser }),
      "UNAUTHORIZED",
    );
  });
});

describe("API keys", () => {
  /** What a call with this key answers: "ok" or the error code, on /trpc and on /api/v1. */
  async function withKey(key: string): Promise<[string, number]> {
    const trpc = await ts
      .client({ apiKey: key })
      .users.list.query({ limit: 1 })
      .then(
        () => "ok",
        (error: unknown) => agoraErrorCode(error) ?? String(error),
      );
    const res = await fetch(`${ts.url}/api/v1/markets?limit=1`, { headers: { "x-api-key": key } });
    return [trpc, res.status];
  }

  it("stops working at once when revoked, though it was just used (and remembered)", async () => {
    const { id, key } = await admin.apiKeys.create.mutate({ name: "soon revoked", role: "ADMIN" });
    expect(await withKey(key)).toEqual(["ok", 200]);
    expect(await withKey(key)).toEqual(["ok", 200]);
    await admin.apiKeys.revoke.mutate({ id });
    expect(await withKey(key)).toEqual(["UNAUTHORIZED", 401]);
  });

  it("stops working at its expiry, though it was used (and remembered) just before", async () => {
    const expiresAt = new Date(Date.now() + 1500);
    const { key } = await admin.apiKeys.create.mutate({ name: "short-lived", role: "ADMIN", expiresAt });
    expect(await withKey(key)).toEqual(["ok", 200]);
    await new Promise((resolve) => {
      setTimeout(resolve, expiresAt.getTime() - Date.now() + 50);
    });
    expect(await withKey(key)).toEqual(["UNAUTHORIZED", 401]);
  });

  it("refuses keys of the wrong prefix or length without a database lookup", async () => {
    const { key } = await admin.apiKeys.create.mutate({ name: "shape", role: "ADMIN" });
    expect(await withKey(key)).toEqual(["ok", 200]);
    const body = key.slice("agk_".length);
    const misshapen = [
      `agx_${body}`,
      `AGK_${body}`,
      body,
      `${key}x`,
      key.slice(0, -1),
      `${key}, ${key}`,
      `agk_${"a".repeat(2000)}`,
    ];
    for (const wrong of misshapen) {
      const { result, queries } = await ts.captureQueries(() => withKey(wrong));
      expect(result, wrong).toEqual(["UNAUTHORIZED", 401]);
      expect(queries, wrong).toEqual([]);
    }
    // A well-shaped key nobody was given is looked up (the control for the above) and refused.
    const unknown = `agk_${randomBytes(32).toString("base64url")}`;
    const { result, queries } = await ts.captureQueries(() => withKey(unknown));
    expect(result).toEqual(["UNAUTHORIZED", 401]);
    expect(queries.length).toBeGreaterThan(0);
  });
});

describe("the Authorization header", () => {
  /** markets.list, a public procedure that shows more to a signed-in caller. */
  const PUBLIC_LIST = `markets.list?input=${encodeURIComponent(JSON.stringify({ json: {} }))}`;

  /** The status of GET /trpc/<path> with these raw header lines. */
  function get(path: string, headers: [string, string][]): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = http.request(`${ts.url}/trpc/${path}`, { method: "GET" }, (res) => {
        res.resume();
        res.on("end", () => {
          resolve(res.statusCode ?? 0);
        });
      });
      // setHeader with an array sends one line per value, as a client with two headers would.
      const byName = new Map<string, string[]>();
      for (const [name, value] of headers) byName.set(name, [...(byName.get(name) ?? []), value]);
      for (const [name, values] of byName)
        req.setHeader(name, values.length === 1 ? (values[0] ?? "") : values);
      req.on("error", reject);
      req.end();
    });
  }

  it("takes the scheme in any case and any spacing around one token", async () => {
    const token = alice.tokens.accessToken;
    for (const value of [
      `Bearer ${token}`,
      `bearer ${token}`,
      `BEARER ${token}`,
      `Bearer    ${token}`,
      `Bearer\t${token}`,
      `  Bearer ${token}  `,
    ]) {
      expect(await get("users.me", [["authorization", value]]), JSON.stringify(value)).toBe(200);
    }
  });

  it("refuses a Bearer header with no token, several tokens, or several Authorization headers", async () => {
    const token = alice.tokens.accessToken;
    const cases: [string, string][][] = [
      [["authorization", "Bearer"]],
      [["authorization", "Bearer "]],
      [["authorization", `Bearer ${token} ${token}`]],
      [["authorization", `Bearer ${token}, Bearer ${token}`]],
      [
        ["authorization", `Bearer ${token}`],
        ["authorization", `Bearer ${token}`],
      ],
      [
        ["authorization", `Bearer ${token}`],
        ["authorization", "Bearer not-a-token"],
      ],
    ];
    for (const headers of cases) {
      // On a procedure that needs a caller, and on a public one, which must not answer as if anonymous.
      expect(await get("users.me", headers), JSON.stringify(headers)).toBe(401);
      expect(await get(PUBLIC_LIST, headers), JSON.stringify(headers)).toBe(401);
    }
  });

  it("ignores other schemes: anonymous on public procedures, UNAUTHORIZED where a caller is needed", async () => {
    const token = alice.tokens.accessToken;
    for (const value of [`Basic ${Buffer.from("a:b").toString("base64")}`, `Token ${token}`, token]) {
      expect(await get("users.me", [["authorization", value]]), value).toBe(401);
      expect(await get(PUBLIC_LIST, [["authorization", value]]), value).toBe(200);
    }
  });
});
