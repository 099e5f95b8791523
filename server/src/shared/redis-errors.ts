// Recognising ioredis's errors, as prisma-errors.ts does Prisma's: the one error mapping
// (trpc/errors.ts) turns them into SERVICE_UNAVAILABLE without importing the Redis adapter.

/** Whether an error is Redis being unreachable or too slow, rather than a command's own failure. */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === "MaxRetriesPerRequestError" ||
    /Command timed out|Stream isn't writeable|Connection is closed|enableOfflineQueue/i.test(error.message)
  );
}
