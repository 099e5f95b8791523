import {
  createHash,
  createHmac,
  createSecretKey,
  randomBytes,
  randomUUID,
  type KeyObject,
} from "node:crypto";
import type * as Jose from "jose";
import { LRUCache } from "lru-cache";
import type { Role } from "../../shared/principal.js";

export interface AccessClaims {
  userId: string;
  role: Role;
  sessionId: string;
}

/** The claims of a token that checked out, with when it expires. */
export interface VerifiedClaims extends AccessClaims {
  readonly expiresAtMs: number;
}

export interface TokenSettings {
  secret: string;
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
}

let jose: Promise<typeof Jose> | null = null;

/**
 * jose, loaded on first use rather than at start-up (its 50 modules are a twentieth of a second
 * before the server can listen); the server preloads it once listening. A failure to load is
 * thrown to the caller (never taken for an invalid token) and tried again on the next call.
 */
export function loadJose(): Promise<typeof Jose> {
  if (!jose) {
    const loading = import("jose");
    jose = loading;
    loading.catch(() => {
      if (jose === loading) jose = null;
    });
  }
  return jose;
}

/** How far ahead of this instance's clock another instance's may be when it signs a token. */
const MAX_CLOCK_SKEW_SECONDS = 5;

/** Signs and verifies access tokens (HS256 JWTs with iss, aud, exp, iat, jti and the session id). */
export class AccessTokens {
  // A KeyObject made once: with raw bytes, jose would import the key again on every call.
  private readonly key: KeyObject;
  /**
   * Tokens already verified, with their claims and expiry: a client sends the same token on
   * every call until it expires, and the signature check (HMAC through WebCrypto) was a large
   * part of an authenticated call. Keyed by the whole token, signature included, so only that
   * exact token hits; an entry is used only before the token's `exp`. Revocation is not the
   * token's business: the session check after it runs on every call.
   */
  private readonly verified = new LRUCache<string, VerifiedClaims>({
    max: 10_000,
  });

  /** The key that derives a refresh token's successor (see `refreshSuccessor`), apart from the signing key. */
  private readonly successorKey: Buffer;

  constructor(private readonly settings: TokenSettings) {
    this.key = createSecretKey(Buffer.from(settings.secret, "utf8"));
    this.successorKey = createHmac("sha256", settings.secret)
      .update("agora refresh-token successor")
      .digest();
  }

  /**
   * The refresh token that rotating `refreshToken` hands out: an HMAC of it under a key only
   * the servers know (from JWT_SECRET, which every instance shares). As unguessable as a random
   * secret to anyone without that key, and the same on every instance and every call, so a
   * repeat of a just-rotated token can be answered with the very token its first use got,
   * with no secret stored anywhere (the database keeps only hashes).
   */
  refreshSuccessor(refreshToken: string): string {
    return createHmac("sha256", this.successorKey).update(refreshToken).digest("base64url");
  }

  /**
   * The session of an access token this server signed, expired or not; null for anything
   * else. Proof that a caller held a token of that session (a refresh usually follows expiry).
   */
  async sessionOf(token: string): Promise<string | null> {
    const { decodeJwt, jwtVerify } = await loadJose();
    let exp: unknown;
    try {
      exp = decodeJwt(token).exp;
    } catch {
      return null;
    }
    if (typeof exp !== "number") return null;
    try {
      const { payload } = await jwtVerify(token, this.key, {
        ...this.verifyOptions,
        // Everything is checked as of a moment before its expiry, which alone is allowed.
        currentDate: new Date(Math.min(Date.now(), (exp - 1) * 1000)),
      });
      return typeof payload.sid === "string" ? payload.sid : null;
    } catch {
      return null;
    }
  }

  /** What every token of ours must have: our issuer and audience, HS256, and these claims. */
  private get verifyOptions() {
    return {
      issuer: this.settings.issuer,
      audience: this.settings.audience,
      algorithms: ["HS256"],
      requiredClaims: ["sub", "exp", "iat", "jti"],
    };
  }

  get ttlSeconds(): number {
    return this.settings.accessTokenTtlSeconds;
  }

  async sign(claims: AccessClaims): Promise<string> {
    const { SignJWT } = await loadJose();
    return new SignJWT({ role: claims.role, sid: claims.sessionId })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(claims.userId)
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.audience)
      .setIssuedAt()
      .setExpirationTime(`${this.settings.accessTokenTtlSeconds}s`)
      .setJti(randomUUID())
      .sign(this.key);
  }

  /** The claims of a valid token, or null for anything expired, tampered, foreign or malformed. */
  async verify(token: string): Promise<VerifiedClaims | null> {
    const known = this.verified.get(token);
    if (known) {
      if (known.expiresAtMs > Date.now()) return known;
      this.verified.delete(token);
      return null;
    }
    const { jwtVerify } = await loadJose();
    try {
      const { payload } = await jwtVerify(token, this.key, this.verifyOptions);
      const { sub, sid, role, exp, iat } = payload;
      if (typeof sub !== "string" || typeof sid !== "string" || (role !== "USER" && role !== "ADMIN"))
        return null;
      // jose checks `iat` only against a maximum age: a token "issued" in the future was not
      // issued by any instance of ours, whose clocks agree to within MAX_CLOCK_SKEW_SECONDS.
      if (iat === undefined || iat > Date.now() / 1000 + MAX_CLOCK_SKEW_SECONDS) return null;
      if (exp === undefined) return null; // required above; this tells the compiler
      const claims: VerifiedClaims = { userId: sub, role, sessionId: sid, expiresAtMs: exp * 1000 };
      this.verified.set(token, claims);
      return claims;
    } catch {
      return null;
    }
  }
}

/** Opaque secrets (refresh tokens, reset tokens, API keys): random, stored only as SHA-256. */
export function newSecret(prefix = ""): string {
  return `${prefix}${randomBytes(32).toString("base64url")}`;
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}
