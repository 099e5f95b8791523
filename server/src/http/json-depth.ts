import { TRPCError } from "@trpc/server";

/**
 * How deeply a request's JSON may nest arrays and objects. A 1 MB body of `[[[…]]]` nests
 * 500,000 deep: parsing it held the event loop for half a second per request on /trpc, and
 * made the REST layer's walks overflow the stack (a 500). Real inputs nest a handful of levels
 * (a 50-call batch of superjson envelopes with an order's items: 6), so 64 refuses nothing a
 * client sends.
 */
export const MAX_JSON_DEPTH = 64;

/** What a caller is told when its JSON nests too deeply (the bound is in the words). */
export const TOO_DEEP_MESSAGE = `nested deeper than ${String(MAX_JSON_DEPTH)} levels of arrays and objects`;

/** A body sent as anything but JSON: /trpc and /api/v1 refuse it in the same words. */
export function notJsonBody(): TRPCError {
  return new TRPCError({
    code: "UNSUPPORTED_MEDIA_TYPE",
    message: "The request body must be JSON (Content-Type: application/json)",
  });
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/**
 * Counts how deeply JSON text nests, chunk by chunk as it arrives, without parsing it: the
 * brackets and braces outside strings. Only ASCII bytes matter and UTF-8 never puts one inside
 * a multi-byte character, so bytes and string code units scan alike. Text that is not JSON at
 * all is left for the parser to refuse; this only bounds the depth the parser will meet.
 */
export class JsonDepthScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private exceeded = false;

  constructor(private readonly max: number = MAX_JSON_DEPTH) {}

  /** Takes the next chunk; false once the text so far nests deeper than the bound. */
  push(chunk: Uint8Array | string): boolean {
    if (this.exceeded) return false;
    const text = typeof chunk === "string";
    const length = chunk.length;
    let { depth, inString, escaped } = this;
    for (let i = 0; i < length; i += 1) {
      const c = text ? chunk.charCodeAt(i) : (chunk[i] ?? 0);
      if (inString) {
        if (escaped) escaped = false;
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) inString = false;
      } else if (c === QUOTE) {
        inString = true;
      } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
        depth += 1;
        if (depth > this.max) {
          this.exceeded = true;
          return false;
        }
      } else if ((c === CLOSE_ARRAY || c === CLOSE_OBJECT) && depth > 0) {
        depth -= 1;
      }
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    return true;
  }
}

/** Whether JSON text nests arrays and objects deeper than `max`. */
export function nestsTooDeep(text: Uint8Array | string, max: number = MAX_JSON_DEPTH): boolean {
  return !new JsonDepthScanner(max).push(text);
}
