import js from "@eslint/js";
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
