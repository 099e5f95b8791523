import { readFile } from "node:fs/promises";
import path from "node:path";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";
import { repoRoot } from "./support/process.js";

/**
 * The server's layers are lint rules (eslint.config.js): these lint a changed copy of a real
 * file, as `pnpm lint` would see it, and expect the rule to catch what was added.
 */
const eslint = new ESLint({ cwd: repoRoot });

async function ruleIdsFor(file: string, edit: (source: string) => string): Promise<string[]> {
  const filePath = path.join(repoRoot, file);
  const source = await readFile(filePath, "utf8");
  const [result] = await eslint.lintText(edit(source), { filePath });
  return (result?.messages ?? []).map((m) => m.ruleId ?? m.message);
}

const prepend = (line: string) => (source: string) => `${line}\n${source}`;

describe("layer rules", () => {
  it("the files as committed break none", async () => {
    expect(await ruleIdsFor("server/src/modules/markets/router.ts", (s) => s)).toEqual([]);
  });

  it("a router importing infra (the database) is refused", async () => {
    const ids = await ruleIdsFor(
      "server/src/modules/markets/router.ts",
      prepend('import { createPrismaClient } from "../../infra/database/db.js";\nvoid createPrismaClient;'),
    );
    expect(ids).toContain("import-x/no-restricted-paths");
  });

  it("a service importing tRPC or express is refused", async () => {
    const ids = await ruleIdsFor(
      "server/src/modules/markets/service.ts",
      prepend('import { TRPCError } from "@trpc/server";\nvoid TRPCError;'),
    );
    expect(ids).toContain("no-restricted-imports");
  });

  it("infra importing a module or config.ts is refused", async () => {
    const ids = await ruleIdsFor(
      "server/src/infra/cache/cache.ts",
      prepend('import { loadConfig } from "../../config.js";\nvoid loadConfig;'),
    );
    expect(ids).toContain("import-x/no-restricted-paths");
  });

  it("an import cycle is refused", async () => {
    // embedded/template.ts imports migrate.ts; migrate.ts importing it closes the loop.
    const ids = await ruleIdsFor(
      "server/src/infra/database/migrate.ts",
      prepend('import { templateFile } from "./embedded/template.js";\nvoid templateFile;'),
    );
    expect(ids).toContain("import-x/no-cycle");
  });
});
