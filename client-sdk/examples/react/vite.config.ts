import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

/**
 * BUNDLE_REPORT=1 puts each library in a chunk of its own, so the browser test can report
 * what each costs (gzip). The normal build lets Rolldown chunk as it likes.
 */
const GROUPS: [string, RegExp][] = [
  ["agora-client", /[\\/]node_modules[\\/]@agora[\\/]client[\\/]/],
  ["trpc", /[\\/]node_modules[\\/]@trpc[\\/]/],
  ["superjson", /[\\/]node_modules[\\/](superjson|copy-anything|is-what)[\\/]/],
  ["tanstack-query", /[\\/]node_modules[\\/]@tanstack[\\/]/],
  ["react", /[\\/]node_modules[\\/](react|react-dom|scheduler)[\\/]/],
];

export default defineConfig({
  plugins: [react()],
  build: {
    target: "es2022",
    ...(globalThis.process?.env.BUNDLE_REPORT === "1"
      ? {
          rolldownOptions: {
            output: {
              codeSplitting: {
                includeDependenciesRecursively: false,
                groups: [{ name: (id: string) => GROUPS.find(([, test]) => test.test(id))?.[0] ?? null }],
              },
            },
          },
        }
      : {}),
  },
});
