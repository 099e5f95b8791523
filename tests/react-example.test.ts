import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { decodeJwt } from "jose";
import type { AgoraClient, Tokens } from "@agora/client";
import { repoRoot, run } from "./support/build.js";
import { createMarket, createProduct } from "./support/marketplace.js";
import { freePort } from "./support/process.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { registerUser, type UserSession } from "./support/people.js";
import { signTestToken } from "./support/tokens.js";

// The React example app (client-sdk/examples/react) as a frontend developer meets it: the SDK
// packed as the README says, the app copied outside the workspace and installed from its own
// lockfile (frozen) with that tarball, type-checked (strict) and built with Vite, served as
// static files on its own origin, and driven in Debian's Chromium against a live server.
// Not part of `pnpm test` (vitest.config.ts excludes it): `pnpm test:react-example`, in CI once.
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
if (!existsSync(CHROMIUM))
  throw new Error(`${CHROMIUM} not found: apt-get install -y chromium, or set CHROMIUM_PATH`);

const exampleDir = path.join(repoRoot, "client-sdk/examples/react");
const SCREENSHOTS = path.join(repoRoot, "tests/.artifacts/screenshots/react-example");
const kib = (bytes: number) => `${(bytes / 1024).toFixed(2)} KiB`;

let work: string;
let ts: TestServer;
let browser: Browser;
/** What afterAll undoes, last first: whatever beforeAll got to before it failed. */
const cleanups: (() => Promise<unknown>)[] = [];
let appUrl: string;
let seller: UserSession;
let buyer: UserSession;
let neighbour: UserSession;
const report: string[] = [];

async function gzipSizes(dir: string): Promise<Map<string, { raw: number; gzip: number }>> {
  const sizes = new Map<string, { raw: number; gzip: number }>();
  for (const name of await readdir(path.join(dir, "assets"))) {
    const bytes = await readFile(path.join(dir, "assets", name));
    sizes.set(name, { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length });
  }
  return sizes;
}

function serveStatic(root: string): http.Server {
  const types: Record<string, string> = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
  };
  return http.createServer((req, res) => {
    const pathname = new URL(req.url ?? "/", "http://x").pathname;
    const file = path.join(root, pathname === "/" ? "index.html" : path.normalize(pathname));
    if (!file.startsWith(root)) {
      res.writeHead(404).end();
      return;
    }
    readFile(file).then(
      (body) => {
        res.writeHead(200, { "content-type": types[path.extname(file)] ?? "application/octet-stream" });
        res.end(body);
      },
      () => res.writeHead(404).end(),
    );
  });
}

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), "agora-react-example-"));
  const app = path.join(work, "app");
  const started = performance.now();

  // 1-2. The app outside the workspace; its setup packs the SDK (the SDK README's install step
  // 1) into the app's .sdk/ and installs with --frozen-lockfile, as `pnpm example:react` does.
  await mkdir(app, { recursive: true });
  for (const entry of [
    "package.json",
    "pnpm-lock.yaml",
    "tsconfig.json",
    "vite.config.ts",
    "index.html",
    "src",
  ]) {
    await cp(path.join(exampleDir, entry), path.join(app, entry), { recursive: true });
  }
  await run(process.execPath, [path.join(exampleDir, "scripts/setup.mjs"), app], repoRoot);
  const installed = JSON.parse(
    await readFile(path.join(app, "node_modules/@trpc/client/package.json"), "utf8"),
  ) as { version: string };
  report.push(
    `installed with --frozen-lockfile: @trpc/client ${installed.version} (the oldest tRPC the SDK supports)`,
  );

  // 3. Type-check (strict) and build, as `pnpm run build` in the app does; then a build with
  // one chunk per library, to tell what each costs.
  // As a production build: vitest sets NODE_ENV=test, which would build React's development copy.
  const production = { ...process.env, NODE_ENV: "production" };
  await run("pnpm", ["run", "build"], app, production);
  const sizes = await gzipSizes(path.join(app, "dist"));
  const js = [...sizes].filter(([name]) => name.endsWith(".js"));
  // The `eventsource` ponyfill is a dynamic import that browsers (which have EventSource) never load.
  const loaded = js.filter(([name]) => !name.startsWith("dist-"));
  const total = loaded.reduce((sum, [, s]) => sum + s.gzip, 0);
  report.push(
    `bundle: ${loaded.map(([name, s]) => `${name} ${kib(s.raw)} (${kib(s.gzip)} gzip)`).join(", ")}; total JS loaded ${kib(total)} gzip`,
  );
  await run("pnpm", ["exec", "vite", "build", "--outDir", "dist-report"], app, {
    ...process.env,
    BUNDLE_REPORT: "1",
  });
  const parts = await gzipSizes(path.join(app, "dist-report"));
  const share = (prefix: string) =>
    [...parts].filter(([name]) => name.startsWith(`${prefix}-`)).reduce((sum, [, s]) => sum + s.gzip, 0);
  const kit = share("agora-client");
  // React's share is the rest: split out, its group also catches its development build.
  const libraries = ["agora-client", "trpc", "superjson", "tanstack-query", "index"];
  const named = libraries.reduce((sum, name) => sum + share(name), 0);
  report.push(
    "split by library (gzip): " +
      libraries.map((name) => `${name === "index" ? "app code" : name} ${kib(share(name))}`).join(", ") +
      `, React + ReactDOM and the rest ${kib(total - named)}; @agora/client (core + react kit) is ` +
      `${kib(kit)} = ${((kit / total) * 100).toFixed(1)}% of the JS loaded`,
  );
  expect(kit).toBeGreaterThan(0);
  report.push(
    `pack + install + typecheck + two builds: ${((performance.now() - started) / 1000).toFixed(1)}s`,
  );

  // 4. Serve the build on its own origin; the API allows exactly that origin.
  const port = await freePort();
  const staticServer = serveStatic(path.join(app, "dist"));
  await new Promise<void>((resolve) => staticServer.listen(port, "127.0.0.1", resolve));
  cleanups.push(() => new Promise((resolve) => staticServer.close(resolve)));
  const origin = `http://127.0.0.1:${String(port)}`;
  ts = await startTestServer({ CORS_ORIGINS: origin });
  cleanups.push(() => ts.close());
  appUrl = `${origin}/?api=${encodeURIComponent(ts.url)}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-sync",
    ],
  });
  await mkdir(SCREENSHOTS, { recursive: true });

  seller = await registerUser(ts);
  buyer = await registerUser(ts);
  neighbour = await registerUser(ts);
}, 600_000);

afterAll(async () => {
  process.stdout.write(`\nReact example app:\n${report.map((line) => `  ${line}`).join("\n")}\n`);
  for (const cleanup of cleanups.reverse()) await cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

async function newPage(): Promise<{ page: Page; errors: string[]; sse: string[] }> {
  // Short enough that the first page of markets overflows the list: the next loads on scroll.
  const context = await browser.newContext({ viewport: { width: 1100, height: 420 } });
  const page = await context.newPage();
  const errors: string[] = [];
  const sse: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("request", (request) => {
    if (request.url().includes("/trpc/markets.onEvent")) sse.push(request.url());
  });
  // Only the app and the API: nothing else is fetched.
  await page.route("**/*", async (route) => {
    const url = route.request().url();
    if (url.startsWith(new URL(appUrl).origin) || url.startsWith(ts.url)) await route.continue();
    else await route.abort();
  });
  return { page, errors, sse };
}

async function signIn(page: Page, password: string): Promise<void> {
  await page.getByLabel("Email").fill(buyer.input.email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

it("signs in, scrolls markets, orders, marks a stock conflict, streams live events, refreshes, ends an expired session", async () => {
  // Data: more active markets than one page, and one with a scarce product.
  const sellerApi: AgoraClient = seller.api;
  for (let i = 0; i < 13; i += 1)
    await createMarket(sellerApi, { name: `Filler market ${String(i).padStart(2, "0")}` });
  const market = await createMarket(sellerApi, { name: "Tea market" });
  const tea = await createProduct(sellerApi, market.id, { name: "Green tea", stock: 50, priceCents: 350 });
  const cake = await createProduct(sellerApi, market.id, { name: "Cheesecake", stock: 1, priceCents: 1200 });

  const { page, errors, sse } = await newPage();
  await page.goto(appUrl);

  // A wrong password is told apart from an expired session: it is only the form's error.
  await signIn(page, "Wrong-Passw0rd");
  await expect.poll(() => page.getByRole("alert").textContent()).toBe("Wrong email or password");
  await signIn(page, buyer.input.password);
  await page.getByRole("heading", { name: "Markets (14)" }).waitFor();

  // Infinite scroll over the cursor: 10 first, the rest when the end of the list is in view.
  const items = page.locator(".markets li button");
  await expect.poll(() => items.count()).toBe(10);
  await page.locator(".markets li.end").scrollIntoViewIfNeeded();
  await expect.poll(() => items.count()).toBe(14);
  await page.getByText("That's all.").waitFor();
  await page.screenshot({ path: path.join(SCREENSHOTS, "markets.png") });

  // The market page: an order asking for more cheesecake than there is marks that line.
  await page.getByRole("button", { name: "Tea market" }).click();
  await page.getByRole("heading", { name: "Tea market" }).waitFor();
  await expect.poll(() => ts.server.services.streams.size).toBe(1);
  await page.getByLabel("Quantity of Green tea").fill("2");
  await page.getByLabel("Quantity of Cheesecake").fill("5");
  await page.getByRole("button", { name: "Place order" }).click();
  const cakeRow = page.locator(`tr[data-product="${cake.id}"]`);
  await expect.poll(() => cakeRow.getAttribute("class")).toBe("short");
  expect(await cakeRow.getByRole("alert").textContent()).toBe("Only 1 left (you asked for 5)");
  expect(await page.locator(`tr[data-product="${tea.id}"]`).getAttribute("class")).toBeNull();
  await page.screenshot({ path: path.join(SCREENSHOTS, "stock-conflict.png") });

  // The stream was opened with a single-use ticket: no access token in its URL.
  const stored = await page.evaluate(() => localStorage.getItem("agora.tokens"));
  const accessToken = (JSON.parse(stored ?? "{}") as { accessToken?: string }).accessToken ?? "";
  expect(accessToken).not.toBe("");
  expect(sse.length).toBeGreaterThanOrEqual(1);
  for (const url of sse) {
    expect(url).not.toContain(accessToken);
    expect(decodeURIComponent(url)).toContain('"ticket":"st_');
  }

  // An order placed elsewhere shows up live.
  const placedAt = performance.now();
  await neighbour.api.orders.create.mutate({
    marketId: market.id,
    items: [{ productId: tea.id, quantity: 1 }],
  });
  // The market's new total: its first order, 1 x 3.50.
  await page.getByText("Order placed: market volume now 3.50").waitFor();
  report.push(
    `live event in the page ${String(Math.round(performance.now() - placedAt))} ms after the order was placed elsewhere`,
  );

  // The access token expires (here: replaced by an expired one of the same session): the next
  // call is refused, the SDK refreshes once, retries, and the store holds the rotated tokens.
  const held = JSON.parse(
    (await page.evaluate(() => localStorage.getItem("agora.tokens"))) ?? "{}",
  ) as Tokens;
  const { sub, role, sid } = decodeJwt(held.accessToken);
  const now = Math.floor(Date.now() / 1000);
  const expired = await signTestToken({ sub, role, sid }, { iat: now - 7200, exp: now - 3600 });
  await page.evaluate(
    (tokens) => {
      localStorage.setItem("agora.tokens", tokens);
    },
    JSON.stringify({ ...held, accessToken: expired }),
  );
  await page.getByRole("button", { name: "← Markets" }).click();
  await page.getByRole("heading", { name: "Markets (14)" }).waitFor();
  // The list shows from the cache at once; its refetch meets the expired token and refreshes.
  const storedTokens = async () =>
    JSON.parse((await page.evaluate(() => localStorage.getItem("agora.tokens"))) ?? "{}") as Tokens;
  await expect.poll(async () => (await storedTokens()).refreshToken).not.toBe(held.refreshToken);
  expect((await storedTokens()).accessToken).not.toBe(expired);
  await page.getByRole("button", { name: "Tea market" }).click();
  await page.getByRole("heading", { name: "Tea market" }).waitFor();

  // A good order goes through.
  await page.getByLabel("Quantity of Cheesecake").fill("1");
  await page.getByRole("button", { name: "Place order" }).click();
  await page.getByRole("status").filter({ hasText: "Order placed: 12.00" }).waitFor();

  // The session ends on the server (every session of the user revoked): the stream ends, the
  // refresh is refused, and the kit signs the app out and says why.
  await buyer.api.auth.logoutAll.mutate();
  await page.getByText("Your session expired: sign in again.").waitFor({ timeout: 15_000 });
  expect(await page.evaluate(() => localStorage.getItem("agora.tokens"))).toBeNull();
  await page.screenshot({ path: path.join(SCREENSHOTS, "session-expired.png") });

  // Signing in again, then out.
  await signIn(page, buyer.input.password);
  await page.getByRole("heading", { name: "Markets (14)" }).waitFor();
  expect(await page.getByText("Your session expired").count()).toBe(0);
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  expect(await page.evaluate(() => localStorage.getItem("agora.tokens"))).toBeNull();

  expect(errors).toEqual([]);
  expect((await stat(path.join(SCREENSHOTS, "markets.png"))).size).toBeGreaterThan(0);
}, 120_000);
