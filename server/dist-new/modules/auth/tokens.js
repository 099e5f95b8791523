import { createHash, createSecretKey, randomBytes, randomUUID } from "node:crypto";
import { jwtVerify, SignJWT } from "jose";
/** Signs and verifies access tokens (HS256 JWTs with iss, aud, exp, iat, jti and the session id). */
export class AccessTokens {
    settings;
    // A KeyObject made once: with raw bytes, jose would import the key again on every call.
    key;
    constructor(settings) {
        this.settings = settings;
        this.key = createSecretKey(Buffer.from(settings.secret, "utf8"));
    }
    get ttlSeconds() {
        return this.settings.accessTokenTtlSeconds;
    }
    async sign(claims) {
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
    async verify(token) {
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
        }
        catch {
            return null;
        }
    }
}
/** Opaque secrets (refresh tokens, reset tokens, API keys): random, stored only as SHA-256. */
export function newSecret(prefix = "") {
    return `${prefix}${randomBytes(32).toString("base64url")}`;
}
export function hashSecret(secret) {
    return createHash("sha256").update(secret).digest("hex");
}
//# sourceMappingURL=tokens.js.map