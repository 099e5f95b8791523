import { z } from "zod";
import { BCRYPT_MAX_BYTES } from "../../infra/passwords.js";
import { DisplayName, Email, Username } from "../users/schemas.js";

const utf8Bytes = (s: string) => Buffer.byteLength(s, "utf8");

// `.meta()`: what the OpenAPI document shows of a rule zod cannot express in JSON Schema (a
// pipe documents only its first schema; refinements not at all). Validation is unchanged.

/** bcrypt reads at most 72 bytes; a longer password is refused, never silently truncated. */
export const Password = z
  .string()
  .refine((s) => utf8Bytes(s) >= 8, "Must be at least 8 bytes")
  .refine((s) => utf8Bytes(s) <= BCRYPT_MAX_BYTES, `Must be at most ${BCRYPT_MAX_BYTES} bytes (UTF-8)`)
  .refine((s) => /[A-Z]/.test(s), "Must contain an upper-case letter")
  .refine((s) => /[a-z]/.test(s), "Must contain a lower-case letter")
  .refine((s) => /[0-9]/.test(s), "Must contain a digit")
  .meta({
    // Bytes, not characters: JSON Schema can only bound the characters (at most as many).
    description: `8 to ${String(BCRYPT_MAX_BYTES)} bytes of UTF-8, with an upper-case letter, a lower-case letter and a digit`,
    maxLength: BCRYPT_MAX_BYTES,
    pattern: "^(?=.*[A-Z])(?=.*[a-z])(?=.*[0-9])",
    examples: ["Correct-H0rse-battery"],
  });

export const RegisterInput = z.object({
  email: Email.describe("The account's email address, to sign in with; stored in lower case"),
  username: Username.describe("A public handle: 3 to 30 letters, digits or underscores"),
  password: Password.describe("8 to 72 bytes, with an upper-case letter, a lower-case letter and a digit"),
  name: DisplayName.optional().describe("A display name, up to 100 characters"),
});
export type RegisterInput = z.infer<typeof RegisterInput>;

export const LoginInput = z.object({
  email: Email.describe("The account's email address"),
  // Not the full password policy: a login must not say which rule an old password breaks.
  password: z.string().min(1, "Required").max(1024).describe("The account's password"),
});

export const RefreshTokenInput = z.object({
  refreshToken: z
    .string()
    .min(1)
    .max(512)
    .describe("The refresh token of the last sign-in or refresh (each one can be used once)"),
});

export const ChangePasswordInput = z.object({
  currentPassword: z.string().min(1, "Required").max(1024).describe("The password in use now"),
  newPassword: Password.describe("8 to 72 bytes, with an upper-case letter, a lower-case letter and a digit"),
});

export const RequestPasswordResetInput = z.object({
  email: Email.describe("The account's email address: a reset link is mailed there if the account exists"),
});

export const ResetPasswordInput = z.object({
  token: z.string().min(1).max(512).describe("The token from the reset link in the mail"),
  newPassword: Password.describe("8 to 72 bytes, with an upper-case letter, a lower-case letter and a digit"),
});

export const TokensOutput = z.object({
  accessToken: z.string().describe("Send it as `Authorization: Bearer <accessToken>`"),
  refreshToken: z.string().describe("For auth.refresh once the access token expires; usable once"),
  tokenType: z.literal("Bearer").describe("Always Bearer"),
  expiresIn: z.number().int().describe("Seconds until the access token expires"),
});
export type Tokens = z.infer<typeof TokensOutput>;

export const SubscriptionTicketOutput = z.object({
  ticket: z.string().describe("Opens one subscription as its `ticket` connection param; spent on first use"),
  expiresIn: z.number().int().describe("Seconds within which the stream must be opened"),
});
