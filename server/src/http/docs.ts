import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import express, { type RequestHandler, type Router } from "express";
import { contentSecurityPolicy } from "helmet";
import type { OpenAPIObject } from "trpc-to-openapi";

/** server/public: the pages of /docs and /panel (the same path from src/http and dist/http). */
export const publicDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../public");

/** A package's installed folder, for serving its browser files locally (no CDN). */
export function packageDir(name: string, from: string = import.meta.url): string {
  // Resolve the entry point (a package's exports may hide package.json), then walk up to its root.
  let dir = path.dirname(createRequire(from).resolve(name));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: unknown };
      if (pkg.name === name) return dir;
    } catch {
      // no package.json here: keep walking up
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`Cannot find the folder of the package ${name}`);
    dir = parent;
  }
}

function serverVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.resolve(publicDir, "../package.json"), "utf8")) as {
      version?: unknown;
    };
    return typeof pkg.version === "string" ? pkg.version : "0.0.0";
  } catch {
    return "0.0.0";
  }
}

export const staticOptions = { index: false, fallthrough: false, maxAge: "1h" } as const;

/** The sha256 sources of the inline scripts of a page (the panel's import map), as CSP names them. */
export function inlineScriptHashes(html: string): string[] {
  return [...html.matchAll(/<script\b(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/gi)].map(
    (match) =>
      `'sha256-${createHash("sha256")
        .update(match[1] ?? "", "utf8")
        .digest("base64")}'`,
  );
}

/**
 * The Content-Security-Policy of a page of ours: scripts, styles, images, fonts and calls from
 * this server only; no inline script but the page's own (by hash), no plugins, no `<base>`, no
 * framing by other sites. The pages load nothing from elsewhere (the browser tests refuse any
 * request that leaves the server), so this costs them nothing and keeps injected markup inert.
 */
export function pagePolicy(html: string): RequestHandler {
  return contentSecurityPolicy({
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'", ...inlineScriptHashes(html)],
      scriptSrcAttr: ["'none'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", "data:"],
      fontSrc: ["'self'"],
      connectSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: ["'self'"],
    },
  });
}

/**
 * A page of ours: `route` answers its index.html (with the page's Content-Security-Policy),
 * `route/assets` its other files, then those of `moreAssets` (folders searched in order; the
 * last one answers 404 for what none has).
 */
export function servePage(
  router: Router,
  route: string,
  folder: string,
  moreAssets: readonly string[] = [],
): void {
  const page = path.join(publicDir, folder, "index.html");
  router.get(route, pagePolicy(readFileSync(page, "utf8")), (_req, res) => {
    res.sendFile(page);
  });
  const folders = [path.join(publicDir, folder), ...moreAssets];
  folders.forEach((dir, index) => {
    router.use(
      `${route}/assets`,
      express.static(dir, { ...staticOptions, fallthrough: index < folders.length - 1 }),
    );
  });
}

/**
 * GET /api/openapi.json (the document, generated once on first use) and GET /docs (Swagger
 * UI, its assets served from the installed swagger-ui-dist package, so the page works offline).
 */
export function docsRouter(): Router {
  const docs = express.Router();
  let document: OpenAPIObject | undefined;
  docs.get("/api/openapi.json", async (_req, res) => {
    // Loaded here: the REST surface's modules are not loaded before it is first used.
    document ??= (await import("./openapi.js")).openApiDocument(serverVersion());
    res.json(document);
  });
  servePage(docs, "/docs", "docs", [packageDir("swagger-ui-dist")]);
  return docs;
}

/**
 * GET /reset-password?token=...: the page the password-reset mail links to (PUBLIC_URL), a form
 * that sends the token and the new password to auth.resetPassword.
 */
export function resetPasswordRouter(): Router {
  const pages = express.Router();
  servePage(pages, "/reset-password", "reset-password");
  return pages;
}
