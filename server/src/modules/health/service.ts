export type Probe = () => Promise<boolean>;

export interface Readiness {
  status: "ok" | "degraded";
  checks: { database: "up" | "down"; redis: "up" | "down" | "embedded" };
}

export class HealthService {
  constructor(
    private readonly database: Probe,
    private readonly redis: Probe | null,
  ) {}

  async readiness(): Promise<Readiness> {
    const [database, redis] = await Promise.all([
      this.database(),
      this.redis ? this.redis() : Promise.resolve(null),
    ]);
    const checks = {
      database: database ? "up" : "down",
      redis: redis === null ? "embedded" : redis ? "up" : "down",
    } as const;
    return { status: database && redis !== false ? "ok" : "degraded", checks };
  }
}
