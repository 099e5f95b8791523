import { configDefaults, defineConfig } from "vitest/config";

/** Run on their own: `pnpm test:react-example` (vitest.react-example.config.ts), once in CI. */
export const OWN_RUN = ["tests/react-example.test.ts"];

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    exclude: [...configDefaults.exclude, ...OWN_RUN],
    globalSetup: ["tests/support/global-setup.ts"],
    pool: "forks",
    // Each file starts its own server and database; two at a time suits a 2-core machine.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 120_000,
    reporters: process.env.CI ? ["default"] : ["default"],
  },
});
