import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import GithubSlugger from "github-slugger";
import MarkdownIt from "markdown-it";
import { describe, expect, it } from "vitest";
import { renderApiContract } from "@agora/server/testing";
import { repoRoot } from "./support/process.js";

// The Markdown a clone carries (README, docs/, the bench's and the SDK's pages): every relative
// link and image resolves inside the repository (and a #fragment to a heading of its page),
// nothing points outside it, and docs/api.md is what the live router renders today.

function markdownFiles(): string[] {
  const docs = path.join(repoRoot, "docs");
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const full = path.join(dir, name);
      return statSync(full).isDirectory() ? walk(full) : name.endsWith(".md") ? [full] : [];
    });
  return [
    path.join(repoRoot, "README.md"),
    path.join(repoRoot, "bench/README.md"),
    path.join(repoRoot, "client-sdk/README.md"),
    ...(existsSync(docs) ? walk(docs) : []),
  ];
}

const md = new MarkdownIt({ html: true });

/** Every link and image target of a Markdown file, as written. */
function targets(file: string): string[] {
  const found: string[] = [];
  const visit = (tokens: ReturnType<typeof md.parse>) => {
    for (const token of tokens) {
      if (token.type === "link_open") found.push(token.attrGet("href") ?? "");
      if (token.type === "image") found.push(token.attrGet("src") ?? "");
      if (token.children) visit(token.children);
    }
  };
  visit(md.parse(readFileSync(file, "utf8"), {}));
  return found;
}

/** The anchors GitHub gives a Markdown file's headings. */
function anchors(file: string): Set<string> {
  const slugger = new GithubSlugger();
  const tokens = md.parse(readFileSync(file, "utf8"), {});
  const out = new Set<string>();
  tokens.forEach((token, i) => {
    if (token.type === "heading_open") out.add(slugger.slug(tokens[i + 1]?.content ?? ""));
  });
  return out;
}

describe("the repository's Markdown", () => {
  const files = markdownFiles();

  it("covers the README, the docs, the bench's page and the SDK's", () => {
    const names = files.map((f) => path.relative(repoRoot, f));
    expect(names).toEqual(
      expect.arrayContaining(["README.md", "bench/README.md", "client-sdk/README.md", "docs/api.md"]),
    );
  });

  it("has every relative link resolve inside the repository, fragments included", () => {
    const broken: string[] = [];
    for (const file of files) {
      for (const target of targets(file)) {
        if (/^(https?:|mailto:)/.test(target)) continue;
        const [pathPart = "", fragment] = target.split("#");
        const resolved = pathPart === "" ? file : path.resolve(path.dirname(file), decodeURI(pathPart));
        const where = `${path.relative(repoRoot, file)} → ${target}`;
        if (path.relative(repoRoot, resolved).startsWith(".."))
          broken.push(`${where} (outside the repository)`);
        else if (!existsSync(resolved)) broken.push(`${where} (no such file)`);
        else if (fragment && resolved.endsWith(".md") && !anchors(resolved).has(fragment))
          broken.push(`${where} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("names the npm registry, not a registry host, and nothing outside the repository", () => {
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      const name = path.relative(repoRoot, file);
      expect(text, name).not.toMatch(/registry\.npmjs\.org|registry\.yarnpkg\.com/);
      expect(text, name).not.toMatch(/\.\.\/shared\//);
    }
  });

  it("keeps the README the front door: at most 250 lines", () => {
    const lines = readFileSync(path.join(repoRoot, "README.md"), "utf8").split("\n").length;
    expect(lines).toBeLessThanOrEqual(250);
  });

  it("has docs/api.md as the live router renders it (else run `pnpm docs:contract`)", () => {
    const committed = readFileSync(path.join(repoRoot, "docs/api.md"), "utf8");
    expect(committed === renderApiContract(), "docs/api.md is stale: run `pnpm docs:contract`").toBe(true);
    // Every procedure of the router has its section.
    for (const name of ["auth.login", "markets.onEvent", "orders.create", "jobs.stats"]) {
      expect(committed).toContain(`### \`${name}\``);
    }
  });
});
