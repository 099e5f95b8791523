// `pnpm docs:contract`: writes docs/api.md from the live router. `--check` only compares, and
// exits 1 when the page is stale (tests/docs.test.ts does the same).
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { repoRoot } from "../shared/paths.js";
import { renderApiContract } from "../http/contract.js";

const file = path.join(repoRoot, "docs", "api.md");
const page = renderApiContract();
const current = await readFile(file, "utf8").catch(() => "");
if (process.argv.includes("--check")) {
  if (current !== page) {
    process.stderr.write("docs/api.md is stale: run `pnpm docs:contract` and commit it\n");
    process.exit(1);
  }
  process.stdout.write("docs/api.md is up to date\n");
} else if (current === page) {
  process.stdout.write("docs/api.md is up to date\n");
} else {
  await writeFile(file, page);
  process.stdout.write(`wrote docs/api.md (${String(page.split("\n").length)} lines)\n`);
}
