import { z } from "zod";
/** An id as clients send it: opaque, bounded. */
export const Id = z.string().min(1).max(100);
/** Who owns or wrote something, as anyone may see it. */
export const UserRef = z.object({ id: z.string(), username: z.string() });
/** The select that loads a `UserRef` with its parent row, in the same query. */
export const userRefSelect = { select: { id: true, username: true } };
export const SuccessOutput = z.object({ success: z.literal(true) });
//# sourceMappingURL=schemas.js.map