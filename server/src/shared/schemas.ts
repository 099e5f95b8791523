import { z } from "zod";

/** An id as clients send it: opaque, bounded. */
export const Id = z.string().min(1).max(100);

/** Who owns or wrote something, as anyone may see it. */
export const UserRef = z.object({
  id: z.string().describe("The user's id"),
  username: z.string().describe("The user's public handle"),
});
export type UserRef = z.infer<typeof UserRef>;

/** The select that loads a `UserRef` with its parent row, in the same query. */
export const userRefSelect = { select: { id: true, username: true } } as const;

export const SuccessOutput = z.object({
  success: z.literal(true).describe("Always true: failures are errors"),
});
