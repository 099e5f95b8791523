import { TRPCError } from "@trpc/server";
import type { Principal } from "../shared/principal.js";
import type { StreamEnding } from "../shared/open-streams.js";
import type { Context } from "./context.js";
import { toTRPCError } from "./errors.js";

const ENDED: Record<StreamEnding, string> = {
  expired: "The access token this stream was opened with expired: reconnect with a fresh one",
  revoked: "The session this stream was opened with was revoked or changed: sign in again",
};

/**
 * Opens an event stream under the instance's limits (OpenStreams): refused with
 * TOO_MANY_REQUESTS, before it opens, when its address or principal holds the most it may. It
 * ends when its client leaves, when the access token it was opened with expires, or when that
 * session is revoked or its role changes (then its client gets UNAUTHORIZED, and the SDK
 * refreshes its token and resumes from the last event it saw). `start` gets the signal that
 * ends the stream; what it throws while streaming reaches the client as its tRPC error.
 */
export async function openEventStream<T>(
  ctx: Context & { principal: Principal | null },
  requestSignal: AbortSignal | undefined,
  start: (signal: AbortSignal) => Promise<AsyncIterable<T>>,
): Promise<AsyncIterable<T>> {
  const principal = ctx.principal;
  const stream = ctx.services.streams.open(
    ctx.ip,
    principal,
    principal?.kind === "user" ? principal.tokenExpiresAtMs : null,
  );
  // A stream whose client left before it was ever read is forgotten too.
  requestSignal?.addEventListener("abort", () => {
    stream.close();
  });
  let events: AsyncIterable<T>;
  try {
    const signal = requestSignal ? AbortSignal.any([requestSignal, stream.signal]) : stream.signal;
    events = await start(signal);
  } catch (error) {
    stream.close();
    throw error;
  }
  return (async function* () {
    try {
      for await (const event of events) yield event;
      if (stream.ending) throw new TRPCError({ code: "UNAUTHORIZED", message: ENDED[stream.ending] });
    } catch (error) {
      throw toTRPCError(error) ?? error;
    } finally {
      stream.close();
    }
  })();
}
