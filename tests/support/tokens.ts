import { SignJWT } from "jose";
import { TEST_AUDIENCE, TEST_ISSUER, TEST_JWT_SECRET } from "./server.js";

export interface SignOptions {
  iat?: number;
  exp?: number | string;
  aud?: string;
  iss?: string;
  secret?: Uint8Array;
}

/**
 * Signs an access token the way the test server does (same secret, issuer and audience),
 * so a test can vary exactly one thing: expiry, audience, issuer or key.
 */
export async function signTestToken(
  claims: Record<string, unknown>,
  opts: SignOptions = {},
): Promise<string> {
  const { sub, ...rest } = claims;
  const jwt = new SignJWT(rest)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt(opts.iat)
    .setJti(crypto.randomUUID())
    .setIssuer(opts.iss ?? TEST_ISSUER)
    .setAudience(opts.aud ?? TEST_AUDIENCE)
    .setExpirationTime(opts.exp ?? "5m");
  if (typeof sub === "string") jwt.setSubject(sub);
  return jwt.sign(opts.secret ?? new TextEncoder().encode(TEST_JWT_SECRET));
}
