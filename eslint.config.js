import js from "@eslint/js";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";
import importX from "eslint-plugin-import-x";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "**/dist/**",
      "server/dist-*/**",
      "**/node_modules/**",
      "server/src/generated/**",
      ".data/**",
      ".tmp/**",
      "client-sdk/.tmp/**",
      // The example app has its own dependencies, installed only by `pnpm example:react`; its
      // strict tsc runs in its browser test (tests/react-example.test.ts).
      "client-sdk/examples/react/src/**",
      "client-sdk/examples/react/vite.config.ts",
      "client-sdk/examples/react/dist/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-non-null-assertion": "error",
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // The server's layers (docs/architecture.md). Data flows one way: http → trpc →
    // modules (routers → services) → infra; shared is below them all. A violation is a
    // lint error, and so is any import cycle.
    files: ["server/src/**/*.ts"],
    plugins: { "import-x": importX },
    settings: {
      ...importX.flatConfigs.typescript.settings,
      "import-x/resolver-next": [createTypeScriptImportResolver({ project: "server/tsconfig.json" })],
    },
    rules: {
      "import-x/no-cycle": ["error", { ignoreExternal: true }],
      "import-x/no-restricted-paths": [
        "error",
        {
          basePath: import.meta.dirname,
          zones: [
            {
              target: "server/src/modules/*/router.ts",
              from: ["server/src/infra", "server/src/generated", "server/src/http", "server/src/config.ts"],
              message: "A router only parses, authorizes and calls its service: no Prisma, infra or HTTP.",
            },
            {
              target: "server/src/modules/**/!(router).ts",
              from: ["server/src/trpc", "server/src/http", "server/src/app.ts", "server/src/server.ts"],
              message: "Services know nothing of tRPC, express or HTTP.",
            },
            {
              target: "server/src/infra",
              from: [
                "server/src/modules",
                "server/src/trpc",
                "server/src/http",
                "server/src/config.ts",
                "server/src/services.ts",
                "server/src/router.ts",
                "server/src/jobs.ts",
              ],
              message:
                "infra/ is below the modules and takes its settings as arguments, never from config.ts.",
            },
            {
              target: "server/src/shared",
              from: [
                "server/src/modules",
                "server/src/trpc",
                "server/src/http",
                "server/src/infra",
                "server/src/config.ts",
              ],
              message: "shared/ is the bottom layer: it imports nothing of the server's own.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["server/src/modules/**/*.ts"],
    ignores: ["server/src/modules/*/router.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["@trpc/*", "express", "express/*"],
              message: "Services know nothing of tRPC, express or HTTP.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: ["**/*.cjs"],
    languageOptions: { globals: globals.node, sourceType: "commonjs" },
  },
  {
    // The panel and docs pages' scripts run in the browser.
    files: ["server/public/**/*.js"],
    languageOptions: { globals: globals.browser, sourceType: "module" },
  },
);
