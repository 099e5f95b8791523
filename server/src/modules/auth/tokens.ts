import { createHash, createSecretKey, randomBytes, randomUUID, type KeyObject } from "node:crypto";
import { jwtVerify, SignJWT } from "jose";
import type { Role } from "../../shared/principal.js";

export interface AccessClaims {
  userId: string;
  role: Role;
  sessionId: string;
}

export interface TokenSettings {
  secret: string;
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
}

/** Signs and verifies access tokens (HS256 JWTs with iss, aud, exp, iat, jti and the session id). */
export class AccessTokens {
  // A KeyObject made once: with raw bytes, jose would import the key again on every call.
  private readonly key: KeyObject;

  constructor(private readonly settings: TokenSettings) {
    this.key = createSecretKey(Buffer.from(settings.secret, "utf8"));
  }

  get ttlSeconds(): number {
    return this.settings.accessTokenTtlSeconds;
  }

  async sign(claims: AccessClaims): Promise<string> {
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
  async verify(token: string): Promise<AccessClaims | null> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms: ["HS256"],
        requiredClaims: ["sub", "exp", "iat", "jti"],
      });
      const { sub, sid, role } = payload;
      if (typeof sub !== "string" || typeof sid !== "string" || (role !== "USER" && role !== "ADMIN"))
        return null;
      return { userId: sub, role, sessionId: sid };
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
