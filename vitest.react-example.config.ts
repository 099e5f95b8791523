import { configDefaults, defineConfig } from "vitest/config";
import base, { OWN_RUN } from "./vitest.config.js";

// The React example app's browser test (tests/react-example.test.ts): it packs the SDK,
// installs and builds the app outside the workspace, then drives it in Chromium. The base
// settings with only that file and none of the suite's projects (mergeConfig would
// concatenate the include lists).
const { projects: _suite, ...settings } = base.test ?? {};
export default defineConfig({
  ...base,
  test: { ...settings, include: OWN_RUN, exclude: [...configDefaults.exclude] },
});
