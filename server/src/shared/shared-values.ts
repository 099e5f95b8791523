/**
 * Values handed out to many calls at once (a cache's entries): nobody may change them, so what
 * is derived from one by a pure function (its validated output, its serialized answer) may be
 * kept beside it, by identity, and reused for as long as the value lives.
 *
 * The cache marks what it hands out (infra/cache/cache.ts); the fast /trpc path keeps the
 * output validation and the JSON bytes of a marked value (http/trpc-fast/), so a cache hit
 * skips both. The rule that makes this safe already held for every cached value: a caller that
 * needs to change one copies it first.
 */
const shared = new WeakSet<object>();

/** Marks an object (or array) as shared and immutable; other values are left as they are. */
export function markShared<T>(value: T): T {
  if (typeof value === "object" && value !== null) shared.add(value);
  return value;
}

export function isShared(value: unknown): value is object {
  return typeof value === "object" && value !== null && shared.has(value);
}
