import { Redis } from "ioredis";
import type { Logger } from "./logger.js";

export type { Redis };

export async function connectRedis(url: string, log: Logger): Promise<Redis> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, enableAutoPipelining: true });
  client.on("error", (err: Error) => {
    log.warn({ err: { message: err.message } }, "redis error");
  });
  await client.connect();
  return client;
}

export async function pingRedis(client: Redis): Promise<boolean> {
  try {
    await client.ping();
    return true;
  } catch {
    return false;
  }
}
