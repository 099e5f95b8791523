export type Probe = () => Promise<boolean>;

export interface Readiness {
  status: "ok" | "degraded";
  checks: { database: "up" | "down"; redis: "up" | "down" | "embedded" };
}

/** A dependency that has not answered by then counts as down: /readyz answers within a second. */
const PROBE_TIMEOUT_MS = 800;

async function probeWithin(probe: Probe, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => {
      resolve(false);
    }, ms);
  });
  try {
    return await Promise.race([probe().catch(() => false), late]);
  } finally {
    clearTimeout(timer);
  }
}

export class HealthService {
  private drainingSince: number | null = null;

  constructor(
    private readonly database: Probe,
    private readonly redis: Probe | null,
    private readonly probeTimeoutMs = PROBE_TIMEOUT_MS,
  ) {}

  /** Shutting down: /readyz fails so load balancers stop sending, while calls are still served. */
  beginDraining(): void {
    this.drainingSince ??= Date.now();
  }

  get draining(): boolean {
    return this.drainingSince !== null;
  }

  async readiness(): Promise<Readiness> {
    const [database, redis] = await Promise.all([
      probeWithin(this.database, this.probeTimeoutMs),
      this.redis ? probeWithin(this.redis, this.probeTimeoutMs) : Promise.resolve(null),
    ]);
    const checks = {
      database: database ? "up" : "down",
      redis: redis === null ? "embedded" : redis ? "up" : "down",
    } as const;
    return { status: database && redis !== false ? "ok" : "degraded", checks };
  }
}
