import { randomBytes } from "node:crypto";
import { Piscina } from "piscina";
/** bcrypt hashing in a pool of worker threads, so a login never stalls other requests. */
export class PasswordHasher {
    cost;
    pool;
    dummyHash = null;
    constructor(cost, workers) {
        this.cost = cost;
        this.pool = new Piscina({
            filename: new URL("./password-worker.mjs", import.meta.url).href,
            minThreads: 1,
            maxThreads: workers,
            idleTimeout: 60_000,
        });
    }
    async hash(password) {
        return (await this.pool.run({ op: "hash", password, cost: this.cost }));
    }
    async verify(password, hash) {
        return (await this.pool.run({ op: "compare", password, hash }));
    }
    /**
     * Spends the same time as a real comparison when there is no user to compare against,
     * so response time does not reveal whether an email is registered.
     */
    async verifyAgainstDummy(password) {
        this.dummyHash ??= this.hash(randomBytes(16).toString("hex"));
        await this.verify(password, await this.dummyHash);
        return false;
    }
    async close() {
        await this.pool.destroy();
    }
}
//# sourceMappingURL=passwords.js.map