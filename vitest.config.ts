import { configDefaults, defineConfig } from "vitest/config";

/** Run on their own: `pnpm test:react-example` (vitest.react-example.config.ts), once in CI. */
export const OWN_RUN = ["tests/react-example.test.ts"];

/**
 * The suite in five groups, so a developer can run one (`pnpm test --project unit`); `pnpm test`
 * runs them all. A new file lands in "api" unless it is listed in another group.
 */
const groups = {
  /** No server: adapters, the middleware runner, the layer rules and docs, the embedded database. */
  unit: [
    "cache-store",
    "docs",
    "embedded-db",
    "event-bus",
    "layers",
    "lazy-handler",
    "policies",
    "redis-client",
    "trpc-invoke",
  ],
  /** Who may call what, and what hostile callers get: the matrix, abuse, fuzzing. */
  security: ["auth-abuse", "authz-matrix", "fuzz", "hostile-input", "token-attacks"],
  /** Whole server processes: start, stop, faults, several instances, deployment files. */
  process: [
    "deploy-files",
    "dev",
    "embedded-start",
    "faults",
    "instances",
    "migrations",
    "pooler",
    "production-start",
    "quickstart",
    "scale-out",
    "start-script",
    "startup-failures",
    "startup-hold",
  ],
  /** What other programs see: the SDK as packed, the Python client, the browser pages. */
  interop: ["browser", "panel", "python-client", "sdk", "sdk-consumer"],
};
const files = (names: readonly string[]) => names.map((name) => `tests/${name}.test.ts`);
const listed = Object.values(groups).flatMap(files);

export default defineConfig({
  test: {
    globalSetup: ["tests/support/global-setup.ts"],
    pool: "forks",
    // Each file starts its own server and database; two at a time suits a 2-core machine.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 120_000,
    projects: [
      ...Object.entries(groups).map(([name, names]) => ({
        extends: true as const,
        test: { name, include: files(names) },
      })),
      {
        extends: true as const,
        /** The procedures over HTTP, domain by domain (and any file not listed above). */
        test: {
          name: "api",
          include: ["tests/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...listed, ...OWN_RUN],
        },
      },
    ],
  },
});
