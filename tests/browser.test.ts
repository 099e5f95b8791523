import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "./support/build.js";
import { startServerProcess } from "./support/process.js";
import { startTestServer, waitFor, type TestServer } from "./support/server.js";
import { loginAdmin, newUserInput } from "./support/people.js";

// The panel and the REST docs in a real browser: Debian's Chromium driven by playwright-core
// (no browser download). `.ci/run` installs the chromium package, and in CI (or with
// CHROMIUM_PATH set) a missing browser fails this file. A developer machine without Chromium
// runs the rest of the suite and skips these, saying why.
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) {
  const why = `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`;
  if (process.env.CI || process.env.CHROMIUM_PATH) throw new Error(why);
  console.warn(`browser tests skipped: ${why}`);
}
/** One folder per database mode, so CI's second run keeps the first run's pictures. */
const SCREENSHOTS = path.join(
  repoRoot,
  "tests/.artifacts/screenshots",
  process.env.DATABASE_URL ? "postgres" : "embedded",
);

let ts: TestServer;
let browser: Browser;
/** Requests the pages tried to send anywhere but this server (there must be none). */
const external: string[] = [];

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  await mkdir(SCREENSHOTS, { recursive: true });
  ts = await startTestServer();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});
afterAll(async () => {
  if (!HAVE_CHROMIUM) return;
  await browser.close();
  await ts.close();
});

async function newPage(origin?: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  // Offline proof: anything not served by this server is refused and recorded.
  await page.route("**/*", async (route) => {
    const url = route.request().url();
    if (url.startsWith(origin ?? ts.url) || url.startsWith("data:")) await route.continue();
    else {
      external.push(url);
      await route.abort();
    }
  });
  // Every Content-Security-Policy violation the page meets (the pages send a strict policy).
  await page.addInitScript(() => {
    const seen: string[] = [];
    Object.assign(window, { agoraCspViolations: seen });
    document.addEventListener("securitypolicyviolation", (event) => {
      seen.push(`${event.effectiveDirective} ${event.blockedURI}`);
    });
  });
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    // Chromium logs every 4xx answer as a console error; the invalid call below expects one.
    if (message.type() === "error" && !/status of 4\d\d/.test(message.text())) errors.push(message.text());
  });
  Object.assign(page, { agoraErrors: errors });
  return page;
}

function pageErrors(page: Page): string[] {
  return (page as Page & { agoraErrors: string[] }).agoraErrors;
}

/** The Content-Security-Policy violations the page has met so far. */
async function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { agoraCspViolations: string[] }).agoraCspViolations);
}

/** Opens a procedure in the panel and waits for its form. */
async function openProcedure(page: Page, procedure: string): Promise<void> {
  await page.click(`[data-procedure="${procedure}"]`);
  await page.locator("h2 code", { hasText: procedure }).waitFor();
}

/** Runs the open procedure and returns the decoded result shown on the page. */
async function run(page: Page): Promise<{ ok: boolean; value: unknown }> {
  const result = page.locator("#result");
  await result.evaluate((node) => {
    node.textContent = "";
    node.setAttribute("class", "result");
  });
  await page.click("button.run");
  await page.waitForFunction(() => /\b(ok|error)\b/.test(document.querySelector("#result")?.className ?? ""));
  const ok = (await result.getAttribute("class"))?.includes(" ok") ?? false;
  return { ok, value: JSON.parse(await result.innerText()) as unknown };
}

describe.runIf(HAVE_CHROMIUM)("panel in Chromium", () => {
  it("lists every procedure, signs in, runs markets.create and orders.create with two items", async () => {
    const seller = newUserInput();
    const { user } = await ts.client().auth.register.mutate(seller);
    const page = await newPage();
    await page.goto(`${ts.url}/panel`);

    await page.locator("[data-procedure]").first().waitFor();
    const listed = await page
      .locator("[data-procedure]")
      .evaluateAll((nodes) => nodes.map((n) => n.getAttribute("data-procedure")));
    expect(listed.length).toBeGreaterThanOrEqual(40);
    expect(listed).toEqual(
      expect.arrayContaining(["auth.login", "markets.create", "orders.create", "users.me"]),
    );

    // Sign in through the panel: the login's access token is used for what follows.
    await openProcedure(page, "auth.login");
    await page.fill('[data-path="email"]', seller.email);
    await page.fill('[data-path="password"]', seller.password);
    const login = await run(page);
    expect(login.ok).toBe(true);
    await page.locator("#whoami", { hasText: `signed in as ${seller.username}` }).waitFor();
    await page.screenshot({ path: path.join(SCREENSHOTS, "panel-login.png"), fullPage: true });

    // Invalid input shows the field errors, and creates nothing.
    await openProcedure(page, "markets.create");
    const invalid = await run(page);
    expect(invalid.ok).toBe(false);
    const invalidError = (
      invalid.value as { error: { data: { code: string; fieldErrors: Record<string, string[]> } } }
    ).error;
    expect(invalidError.data.code).toBe("BAD_REQUEST");
    expect(Object.keys(invalidError.data.fieldErrors)).toEqual(["name"]);

    await page.fill('[data-path="name"]', "Panel Bazaar");
    await page.fill('[data-path="description"]', "Made in the browser");
    await page.selectOption('[data-path="status"]', { label: "ACTIVE" });
    const created = await run(page);
    expect(created.ok).toBe(true);
    const market = created.value as { id: string; name: string; status: string; owner: { id: string } };
    expect(market).toMatchObject({ name: "Panel Bazaar", status: "ACTIVE", owner: { id: user.id } });
    await page.screenshot({ path: path.join(SCREENSHOTS, "panel-markets-create.png"), fullPage: true });
    // Really created: the server has it.
    expect((await ts.client().markets.byId.query({ id: market.id })).name).toBe("Panel Bazaar");

    // Two products in the new market, for an order with two items.
    const { tokens } = await ts
      .client()
      .auth.login.mutate({ email: seller.email, password: seller.password });
    const owner = ts.client({ token: tokens.accessToken });
    const lamp = await owner.products.create.mutate({
      marketId: market.id,
      name: "Lamp",
      priceCents: 1500,
      stock: 5,
    });
    const mug = await owner.products.create.mutate({
      marketId: market.id,
      name: "Mug",
      priceCents: 700,
      stock: 9,
    });

    await openProcedure(page, "orders.create");
    await page.fill('[data-path="marketId"]', market.id);
    await page.fill('[data-path="items.0.productId"]', lamp.id);
    await page.fill('[data-path="items.0.quantity"]', "2");
    await page.click("text=Add to items");
    await page.fill('[data-path="items.1.productId"]', mug.id);
    await page.fill('[data-path="items.1.quantity"]', "3");
    const ordered = await run(page);
    expect(ordered.ok).toBe(true);
    const order = ordered.value as { id: string; totalCents: number; items: unknown[]; status: string };
    expect(order).toMatchObject({ status: "CONFIRMED", totalCents: 2 * 1500 + 3 * 700 });
    expect(order.items).toHaveLength(2);
    await page.screenshot({ path: path.join(SCREENSHOTS, "panel-orders-create.png"), fullPage: true });
    expect((await owner.products.byId.query({ id: lamp.id })).stock).toBe(3);

    expect(await cspViolations(page)).toEqual([]);
    expect(pageErrors(page)).toEqual([]);
    expect(external).toEqual([]);
  }, 90_000);
});

describe.runIf(HAVE_CHROMIUM)("the panel documents itself in Chromium", () => {
  it("shows descriptions, who may call, the output schema; calls with an API key; hides passwords; stops a subscription", async () => {
    const page = await newPage();
    await page.goto(`${ts.url}/panel`);
    await page.locator("[data-procedure]").first().waitFor();

    // Who may call, in the list and on the procedure's page.
    expect(await page.locator('[data-procedure="users.list"] .access').innerText()).toBe("admin");
    expect(await page.locator('[data-procedure="markets.list"] .access').innerText()).toBe("anyone");
    await openProcedure(page, "markets.create");
    expect(await page.locator("#who").innerText()).toMatch(
      /Who may call: user a signed-in user \(not an API key\)/,
    );
    expect(await page.locator("p.summary").innerText()).toBe("Create a market");
    // Every field says what it is; the output schema is there before any call.
    expect(await page.locator('[data-description="name"]').innerText()).toMatch(/1 to 200 characters/);
    expect(await page.locator('[data-description="status"]').innerText()).toMatch(/DRAFT/);
    const outline = await page.locator("#output-schema").innerText();
    expect(outline).toMatch(/volumeCents: integer — The market's total of confirmed orders, in cents/);
    expect(outline).toMatch(/createdAt: Date/);
    await page.screenshot({ path: path.join(SCREENSHOTS, "panel-described.png"), fullPage: true });

    // Passwords are password fields, with a Show button.
    await openProcedure(page, "auth.login");
    expect(await page.locator('[data-path="password"]').getAttribute("type")).toBe("password");
    await page.click('button[aria-label="Show password"]');
    expect(await page.locator('[data-path="password"]').getAttribute("type")).toBe("text");

    // An admin's API key in the headers panel: users.list (admins only) answers.
    const admin = (await loginAdmin(ts)).api;
    const { key } = await admin.apiKeys.create.mutate({ name: "panel test", role: "ADMIN" });
    await openProcedure(page, "users.list");
    const refused = await run(page);
    expect(refused.ok).toBe(false);
    await page.click("#headers summary");
    await page.fill("#apikey", key);
    await page.dispatchEvent("#apikey", "change");
    const listed = await run(page);
    expect(listed.ok).toBe(true);
    expect((listed.value as { total: number }).total).toBeGreaterThanOrEqual(1);
    // A custom header goes along too: the request id the server echoes.
    await page.fill("#header-name", "X-Request-Id");
    await page.fill("#header-value", "panel-custom-header-1");
    await run(page);
    expect(await page.locator("#status").innerText()).toContain("request panel-custom-header-1");

    // Ids from results are offered back in id fields.
    const seller = newUserInput();
    const session = await ts.client().auth.register.mutate(seller);
    const owner = ts.client({ token: session.tokens.accessToken });
    const market = await owner.markets.create.mutate({ name: "Evented", status: "ACTIVE" });
    await openProcedure(page, "markets.byId");
    await page.fill('[data-path="id"]', market.id);
    expect((await run(page)).ok).toBe(true);
    const offered = await page
      .locator("#recent-ids option")
      .evaluateAll((nodes) => nodes.map((n) => n.getAttribute("value")));
    expect(offered[0]).toBe(market.id);
    expect(await page.locator('[data-path="id"]').getAttribute("list")).toBe("recent-ids");

    // A subscription: events arrive with a timestamp, and Stop ends it.
    await openProcedure(page, "markets.onEvent");
    await page.fill('[data-path="marketId"]', market.id);
    await page.click("button.run");
    await page.locator("#status", { hasText: "listening since" }).waitFor();
    await owner.markets.update.mutate({ id: market.id, data: { name: "Evented again" } });
    await page.waitForFunction(() =>
      (document.querySelector("#result")?.textContent ?? "").includes("Evented again"),
    );
    expect(await page.locator("#result").innerText()).toMatch(/"receivedAt": "\d{4}-\d\d-\d\dT/);
    await page.click("button.stop");
    expect(await page.locator("#status").innerText()).toBe("stopped");
    expect(await page.locator("button.stop").isDisabled()).toBe(true);

    // A narrow window: no sideways scrolling, even with a long token on the page.
    await page.setViewportSize({ width: 380, height: 800 });
    await page.fill("#token", "x".repeat(900));
    await openProcedure(page, "auth.refresh");
    await page.fill('[data-path="refreshToken"]', "y".repeat(500));
    await run(page);
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: path.join(SCREENSHOTS, "panel-narrow.png"), fullPage: true });

    expect(await cspViolations(page)).toEqual([]);
    expect(pageErrors(page)).toEqual([]);
    expect(external).toEqual([]);
  }, 120_000);

  it("the landing page links the panel and the panel links back; /favicon.ico answers", async () => {
    const page = await newPage();
    await page.goto(`${ts.url}/`);
    await page.click("text=Panel");
    await page.locator("[data-procedure]").first().waitFor();
    await page.click('header a[href="/"]');
    await page.waitForURL(`${ts.url}/`);
    expect(await page.locator("h1").innerText()).toBe("Agora");
    expect(await page.locator("#links a").count()).toBe(5);
    const favicon = await page.request.get(`${ts.url}/favicon.ico`);
    expect(favicon.status()).toBe(200);
    expect(await cspViolations(page)).toEqual([]);
    expect(pageErrors(page)).toEqual([]);
  }, 60_000);
});

describe.runIf(HAVE_CHROMIUM)("a newcomer's first start in Chromium", () => {
  it("pnpm start's server seeds the demo marketplace, and the panel signs in with the demo login", async () => {
    // What `pnpm start` runs, on an empty data folder and the development defaults.
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "agora-newcomer-"));
    const server = await startServerProcess({ DATA_DIR: path.join(dataDir, "data"), LOG_LEVEL: "info" });
    try {
      await waitFor(
        () => (server.output().includes("demo data seeded") ? true : undefined),
        60_000,
        "the demo data to be seeded",
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}\n${server.output()}`);
      });
      const page = await newPage(server.url);
      await page.goto(`${server.url}/panel`);
      await page.click('[data-procedure="auth.login"]');
      await page.fill('[data-path="email"]', "alice@agora.example");
      await page.fill('[data-path="password"]', "DemoPassw0rd");
      expect((await run(page)).ok).toBe(true);
      await page.locator("#whoami", { hasText: "signed in as alice" }).waitFor();

      await openProcedure(page, "markets.list");
      await page.selectOption('[data-path="status"]', { label: "ACTIVE" });
      const listed = await run(page);
      expect(listed.ok).toBe(true);
      expect((listed.value as { items: unknown[] }).items.length).toBeGreaterThan(0);

      await openProcedure(page, "markets.create");
      await page.fill('[data-path="name"]', "Newcomer's stall");
      const created = await run(page);
      expect(created.value).toMatchObject({
        name: "Newcomer's stall",
        status: "DRAFT",
        owner: { username: "alice" },
      });
      await page.screenshot({ path: path.join(SCREENSHOTS, "newcomer-panel.png"), fullPage: true });
      expect(await cspViolations(page)).toEqual([]);
      expect(pageErrors(page)).toEqual([]);
      expect(external).toEqual([]);
    } finally {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe.runIf(HAVE_CHROMIUM)("password reset page in Chromium", () => {
  it("sets a new password from the mailed link, and refuses a weak one first", async () => {
    const member = newUserInput();
    await ts.client().auth.register.mutate(member);
    const before = ts.mailer.sent.length;
    await ts.client().auth.requestPasswordReset.mutate({ email: member.email });
    const mail = await ts.waitForMail(member.email, before);
    const mailed = new URL(/Or open: (\S+)/.exec(mail.text)?.[1] ?? "");
    expect(mailed.pathname).toBe("/reset-password");
    const page = await newPage();
    // The mail points at PUBLIC_URL; the same path and query on this test server.
    await page.goto(`${ts.url}${mailed.pathname}${mailed.search}`);
    // Read once, the token leaves the address bar and the history entry.
    await page.waitForFunction(() => location.search === "");
    expect(page.url()).toBe(`${ts.url}/reset-password`);
    // The page's policy runs no script but its own: one injected into the page is refused.
    const injected = await page.evaluate(() => {
      const script = document.createElement("script");
      script.textContent = "window.agoraInjected = true;";
      document.body.append(script);
      return (window as unknown as { agoraInjected?: boolean }).agoraInjected ?? false;
    });
    expect(injected).toBe(false);
    expect(await cspViolations(page)).toEqual(["script-src-elem inline"]);
    pageErrors(page).length = 0;

    await page.fill("#password", "weakpass");
    await page.fill("#repeat", "weakpass");
    await page.click("button[type=submit]");
    await page.locator("#message.error").waitFor();
    expect(await page.locator("#message").innerText()).toMatch(/upper-case|digit/i);

    await page.fill("#password", "BrandNew1Pass");
    await page.fill("#repeat", "BrandNew1Pass");
    await page.click("button[type=submit]");
    await page.locator("#message.ok").waitFor();
    await page.screenshot({ path: path.join(SCREENSHOTS, "reset-password.png"), fullPage: true });
    const signedIn = await ts.client().auth.login.mutate({ email: member.email, password: "BrandNew1Pass" });
    expect(signedIn.user.email).toBe(member.email);
    expect(pageErrors(page)).toEqual([]);
    expect(external).toEqual([]);
  }, 60_000);
});

describe.runIf(HAVE_CHROMIUM)("REST docs in Chromium", () => {
  it("renders the OpenAPI operations from local assets", async () => {
    const page = await newPage();
    await page.goto(`${ts.url}/docs`);
    await page.locator(".opblock").first().waitFor({ timeout: 30_000 });
    // The REST docs and the panel link to each other.
    expect(await page.locator('#pages a[href="/panel"]').count()).toBe(1);
    const operations = await page
      .locator(".opblock-summary-path")
      .evaluateAll((nodes) => nodes.map((n) => n.textContent.replace(/\u200b/g, "").trim()));
    expect(operations).toEqual(
      expect.arrayContaining(["/auth/login", "/markets/{id}", "/orders", "/posts/{id}"]),
    );
    // Every operation of the live document, each once.
    const document = (await (await fetch(`${ts.url}/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const methods = new Set(["get", "put", "post", "delete", "patch", "options", "head", "trace"]);
    const documented = Object.values(document.paths).reduce(
      (sum, item) => sum + Object.keys(item).filter((key) => methods.has(key)).length,
      0,
    );
    expect(documented).toBeGreaterThan(40);
    expect(operations.length).toBe(documented);
    await page.screenshot({ path: path.join(SCREENSHOTS, "docs.png"), fullPage: true });

    // A token pasted into "Authorize" is used for the page's calls but kept nowhere: a reload
    // (or the next person at this browser) finds nothing in storage.
    await page.click("button.authorize");
    const bearer = page.locator(".auth-container").filter({ hasText: "bearerAuth" });
    await bearer.locator("input").fill("pasted-access-token");
    await bearer.locator("button.authorize").click();
    await bearer.locator("button", { hasText: "Logout" }).waitFor();
    await bearer.locator("button.btn-done").click();
    await page.locator("button.authorize.locked").waitFor();
    expect(
      await page.evaluate(() =>
        Array.from({ length: localStorage.length }, (_, i) =>
          localStorage.getItem(localStorage.key(i) ?? ""),
        ).join("\n"),
      ),
    ).not.toContain("pasted-access-token");
    await page.reload();
    await page.locator(".opblock").first().waitFor({ timeout: 30_000 });
    expect(await page.locator("button.authorize.locked").count()).toBe(0);

    expect(await cspViolations(page)).toEqual([]);
    expect(pageErrors(page)).toEqual([]);
    expect(external).toEqual([]);
  }, 60_000);
});
