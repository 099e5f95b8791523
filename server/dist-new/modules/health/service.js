export class HealthService {
    database;
    redis;
    constructor(database, redis) {
        this.database = database;
        this.redis = redis;
    }
    async readiness() {
        const [database, redis] = await Promise.all([
            this.database(),
            this.redis ? this.redis() : Promise.resolve(null),
        ]);
        const checks = {
            database: database ? "up" : "down",
            redis: redis === null ? "embedded" : redis ? "up" : "down",
        };
        return { status: database && redis !== false ? "ok" : "degraded", checks };
    }
}
//# sourceMappingURL=service.js.map