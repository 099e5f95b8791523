/**
 * Runs in its own process during the event-loop test: sends `auth.login` at a fixed rate
 * (open loop, like real users arriving) until SIGTERM, then waits for the logins in flight
 * and prints one JSON line with what it achieved.
 *
 *   LOGIN_URL=http://127.0.0.1:PORT LOGIN_EMAIL=... LOGIN_PASSWORD=... LOGIN_RATE=8 node --import tsx/esm login-load.ts
 */
const url = process.env.LOGIN_URL ?? "";
const email = process.env.LOGIN_EMAIL ?? "";
const password = process.env.LOGIN_PASSWORD ?? "";
const rate = Number(process.env.LOGIN_RATE ?? 8);
// A ceiling on logins in flight: when the server cannot keep up, the backlog stays bounded, so
// the logins still queued in its bcrypt workers after we stop do not spill into the next test.
const maxInFlight = Number(process.env.LOGIN_MAX_IN_FLIGHT ?? rate);

if (!url || !email || !password || !(rate > 0)) {
  process.stderr.write("LOGIN_URL, LOGIN_EMAIL, LOGIN_PASSWORD and LOGIN_RATE are required\n");
  process.exit(2);
}

const body = JSON.stringify({ json: { email, password } });
const started = performance.now();
let sent = 0;
let skipped = 0;
let ok = 0;
let failed = 0;
let inFlight = 0;
const latencies: number[] = [];
const pending = new Set<Promise<void>>();
let firstError: string | null = null;

async function login(): Promise<void> {
  const t0 = performance.now();
  try {
    const res = await fetch(`${url}/trpc/auth.login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    const text = await res.text();
    if (res.ok) ok += 1;
    else {
      failed += 1;
      firstError ??= `HTTP ${res.status}: ${text.slice(0, 200)}`;
    }
  } catch (error) {
    failed += 1;
    firstError ??= String(error);
  } finally {
    latencies.push(performance.now() - t0);
  }
}

const timer = setInterval(() => {
  if (inFlight >= maxInFlight) {
    skipped += 1;
    return;
  }
  sent += 1;
  inFlight += 1;
  const p = login().finally(() => {
    inFlight -= 1;
    pending.delete(p);
  });
  pending.add(p);
}, 1000 / rate);

process.stdout.write("LOGIN_LOAD_READY\n");

process.once("SIGTERM", () => {
  clearInterval(timer);
  const stopped = performance.now();
  void Promise.all(pending).then(() => {
    latencies.sort((a, b) => a - b);
    const seconds = (stopped - started) / 1000;
    const result = {
      seconds,
      requestedPerSec: rate,
      sent,
      skipped,
      ok,
      failed,
      okPerSec: ok / ((performance.now() - started) / 1000),
      sentPerSec: sent / seconds,
      p50Ms: latencies[Math.floor(latencies.length / 2)] ?? null,
      firstError,
    };
    process.stdout.write(`LOGIN_LOAD_RESULT ${JSON.stringify(result)}\n`);
    process.exit(0);
  });
});
