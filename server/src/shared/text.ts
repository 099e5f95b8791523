/**
 * Text that can be stored: PostgreSQL refuses NUL (0x00) in text, and a lone UTF-16
 * surrogate has no UTF-8 form (the query engine cannot even serialise it). Such strings are
 * refused as input, in one place for every procedure (trpc/init.ts), instead of failing deep
 * in the database as a 500.
 */

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `text` cannot be stored, or null when it can. */
export function unstorableTextReason(text: string): string | null {
  if (text.includes("\0")) return "Must not contain NUL characters";
  if (LONE_SURROGATE.test(text)) return "Must be valid Unicode (unpaired surrogate)";
  return null;
}

/**
 * The first string anywhere in `value` (a decoded request input) that cannot be stored, as
 * `{ path, reason }`; null when there is none. Iterative, so hostile nesting cannot overflow
 * the stack.
 */
export function findUnstorableText(value: unknown): { path: string; reason: string } | null {
  const stack: { value: unknown; path: string }[] = [{ value, path: "" }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const current = item.value;
    if (typeof current === "string") {
      const reason = unstorableTextReason(current);
      if (reason) return { path: item.path || "_", reason };
    } else if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i -= 1) {
        stack.push({ value: current[i], path: item.path ? `${item.path}.${String(i)}` : String(i) });
      }
    } else if (current !== null && typeof current === "object") {
      for (const [key, child] of Object.entries(current)) {
        if (unstorableTextReason(key)) return { path: item.path || "_", reason: "Invalid property name" };
        stack.push({ value: child, path: item.path ? `${item.path}.${key}` : key });
      }
    }
  }
  return null;
}
