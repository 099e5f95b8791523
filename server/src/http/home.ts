import { readFile } from "node:fs/promises";
import path from "node:path";
import express, { type Router } from "express";
import type { Config } from "../config.js";
import { repoRoot } from "../shared/paths.js";
import { pagePolicy, publicDir, staticOptions } from "./docs.js";

const escape = (text: string) =>
  text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c);

/** The SDK guide of a checkout (client-sdk/README.md); a built image does not carry it. */
const SDK_GUIDE = path.join(repoRoot, "client-sdk", "README.md");

/**
 * GET /: what this server offers, linked (the start-up line says "open http://localhost:3000");
 * only what this configuration serves is listed. GET /favicon.ico (and .svg) for every page.
 * GET /sdk: the SDK guide as text, when the checkout has it.
 */
export function homeRouter(config: Pick<Config, "panelEnabled" | "docsEnabled">): Router {
  const home = express.Router();
  const links: [string, string, string][] = [
    ...(config.panelEnabled
      ? [
          ["/panel", "Panel", "try every procedure in the browser, with forms built from its schemas"] as [
            string,
            string,
            string,
          ],
        ]
      : []),
    ...(config.docsEnabled
      ? [
          ["/docs", "REST docs", "the /api/v1 routes in Swagger UI"] as [string, string, string],
          ["/api/openapi.json", "OpenAPI document", "for code generators and API tools"] as [
            string,
            string,
            string,
          ],
        ]
      : []),
    ["/healthz", "Health", "the process answers; /readyz: the database and Redis too"],
    ["/sdk", "SDK guide", "@agora/client: a typed TypeScript client for every procedure"],
  ];
  const html = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Agora</title>
    <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
    <link rel="stylesheet" href="/home/assets/home.css" />
  </head>
  <body>
    <main>
      <h1>Agora</h1>
      <p>An end-to-end typed RPC backend for a marketplace: tRPC at <code>/trpc</code>, REST at <code>/api/v1</code>.</p>
      <ul id="links">
${links.map(([href, name, what]) => `        <li><a href="${escape(href)}">${escape(name)}</a> <span class="muted">${escape(what)}</span></li>`).join("\n")}
      </ul>
      <p class="muted">Sign in with <code>auth.login</code> (the demo data prints its logins at start-up) and send <code>Authorization: Bearer &lt;accessToken&gt;</code>, or an API key as <code>X-Api-Key</code>.</p>
    </main>
  </body>
</html>
`;
  home.get("/", pagePolicy(html), (_req, res) => {
    res.type("html").send(html);
  });
  const favicon = path.join(publicDir, "home", "favicon.svg");
  home.get(["/favicon.ico", "/favicon.svg"], (_req, res) => {
    // An SVG under either name: browsers go by the content type.
    res.type("image/svg+xml").sendFile(favicon, { maxAge: "1d" });
  });
  home.use("/home/assets", express.static(path.join(publicDir, "home"), staticOptions));
  home.get("/sdk", async (_req, res) => {
    const guide = await readFile(SDK_GUIDE, "utf8").catch(() => null);
    if (guide === null) {
      res.status(404).type("text").send("The SDK guide is client-sdk/README.md in the repository.\n");
      return;
    }
    res.type("text/markdown; charset=utf-8").send(guide);
  });
  return home;
}
