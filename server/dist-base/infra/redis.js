import { Redis } from "ioredis";
export async function connectRedis(url, log) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, enableAutoPipelining: true });
    client.on("error", (err) => {
        log.warn({ err: { message: err.message } }, "redis error");
    });
    await client.connect();
    return client;
}
export async function pingRedis(client) {
    try {
        await client.ping();
        return true;
    }
    catch {
        return false;
    }
}
//# sourceMappingURL=redis.js.map