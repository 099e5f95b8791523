import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError } from "./support/errors.js";
import { createMarket } from "./support/marketplace.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { registerUser } from "./support/people.js";

const TOKEN = "metrics-token-0123456789abcdef";
let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({ METRICS_TOKEN: TOKEN });
});
afterAll(async () => {
  await ts.close();
});

async function scrape(server: TestServer, token?: string): Promise<Response> {
  return fetch(`${server.url}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
}

/** The value of one series in a Prometheus text exposition, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("/metrics", () => {
  it("counts calls by procedure and outcome, times them, and reports cache, pool, jobs and event loop", async () => {
    const alice = await registerUser(ts);
    const market = await createMarket(alice.api);
    const anon = ts.client();
    for (let i = 0; i < 3; i += 1) await anon.health.live.query();
    await anon.markets.byId.query({ id: market.id });
    await anon.markets.byId.query({ id: market.id });
    await expectError(anon.markets.byId.query({ id: "missing" }), "NOT_FOUND");
    await expectError(anon.users.me.query(), "UNAUTHORIZED");

    const res = await scrape(ts, TOKEN);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(sample(text, 'agora_procedure_calls_total{procedure="health.live",type="query",code="OK"}')).toBe(
      3,
    );
    expect(sample(text, 'agora_procedure_calls_total{procedure="markets.byId",type="query",code="OK"}')).toBe(
      2,
    );
    expect(
      sample(text, 'agora_procedure_calls_total{procedure="markets.byId",type="query",code="NOT_FOUND"}'),
    ).toBe(1);
    expect(
      sample(text, 'agora_procedure_calls_total{procedure="users.me",type="query",code="UNAUTHORIZED"}'),
    ).toBe(1);
    expect(
      sample(text, 'agora_procedure_duration_seconds_count{procedure="markets.byId",type="query"}'),
    ).toBe(3);
    expect(text).toContain(
      'agora_procedure_duration_seconds_bucket{le="0.005",procedure="markets.byId",type="query"}',
    );
    // The first read of the market missed, the second hit.
    expect(sample(text, 'agora_cache_lookups_total{cache="market",result="hit"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'agora_cache_lookups_total{cache="market",result="miss"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'agora_db_pool_connections{state="max"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, "agora_db_pool_waiting_requests")).toEqual(expect.any(Number));
    expect(text).toMatch(/agora_jobs\{queue="order-confirmation-mail",state="created"\} \d+/);
    expect(text).toMatch(/agora_nodejs_eventloop_lag_p99_seconds \d/);
  });

  it("requires the token when METRICS_TOKEN is set", async () => {
    expect((await scrape(ts)).status).toBe(401);
    expect((await scrape(ts, "wrong-token-wrong-token-wrong")).status).toBe(401);
    const refused = await scrape(ts, `${TOKEN}x`);
    expect(refused.status).toBe(401);
    expect(await refused.text()).not.toContain("agora_");
  });

  it("is open without a token outside production, and off in production unless a token is set", async () => {
    const dev = await startTestServer();
    const prod = await startTestServer({ NODE_ENV: "production" });
    const prodWithToken = await startTestServer({ NODE_ENV: "production", METRICS_TOKEN: TOKEN });
    try {
      expect((await scrape(dev)).status).toBe(200);
      expect((await scrape(prod)).status).toBe(404);
      expect((await scrape(prod, TOKEN)).status).toBe(404);
      expect((await scrape(prodWithToken)).status).toBe(401);
      expect((await scrape(prodWithToken, TOKEN)).status).toBe(200);
    } finally {
      await Promise.all([dev.close(), prod.close(), prodWithToken.close()]);
    }
  });
});
