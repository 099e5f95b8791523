import { spawn, type ChildProcess } from "node:child_process";
import {
  chmod,
  chown,
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { createAgoraClient } from "@agora/client";
import { startEmbeddedPostgres } from "@agora/server/testing";
import { ensureServerBuild, repoRoot, run } from "./support/build.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";
import { envOf, execForm, readDockerfile, stageNamed, stepsOf } from "./support/dockerfile.js";

// The production start of the Docker image, without Docker (no engine runs here): the
// server is built with the Dockerfile's build step, the runtime stage's files are laid out
// as its COPY instructions say (production dependencies from the builder's `pnpm deploy`),
// and its CMD runs there with its ENV, on a fresh, empty database. Nothing outside that
// folder is on the module path, so a file the image lacks fails the start.

const stages = readDockerfile();
const builder = stageNamed(stages, "builder");
const runtime = stages.at(-1);
const BUILDER_WORKDIR = "/app";

let work: string;
let image: Image;
let db: TestDatabase;

/** The builder's `pnpm ... deploy ... <dir>`, run on a copy of the workspace manifests. */
async function deployProductionDependencies(target: string): Promise<{ from: string; to: string }> {
  const step = stepsOf(builder, "RUN").find((s) => /^pnpm .*\bdeploy\b/.test(s.content));
  if (!step) throw new Error("the builder stage has no pnpm deploy step");
  const args = step.content.split(/\s+/).slice(1);
  const dir = args.pop();
  if (!dir?.startsWith("/")) throw new Error(`line ${step.line}: expected an absolute deploy directory`);
  // The repository's own root would run its postinstall (prisma generate) into the working
  // tree, under the feet of test files running meanwhile: deploy from the manifests alone.
  const workspace = path.join(work, "workspace");
  await mkdir(workspace, { recursive: true });
  const rootManifest = z
    .object({ scripts: z.record(z.string(), z.string()).optional() })
    .loose()
    .parse(JSON.parse(await readFile(path.join(repoRoot, "package.json"), "utf8")));
  delete rootManifest.scripts;
  await writeFile(path.join(workspace, "package.json"), JSON.stringify(rootManifest));
  for (const file of ["pnpm-lock.yaml", "pnpm-workspace.yaml"]) {
    await cp(path.join(repoRoot, file), path.join(workspace, file));
  }
  const { packages, patchedDependencies } = z
    .object({
      packages: z.array(z.string()),
      patchedDependencies: z.record(z.string(), z.string()).optional(),
    })
    .parse(parseYaml(await readFile(path.join(repoRoot, "pnpm-workspace.yaml"), "utf8")));
  // pnpm applies these to the dependencies it installs (and stops if one is missing).
  for (const patch of Object.values(patchedDependencies ?? {})) {
    await mkdir(path.dirname(path.join(workspace, patch)), { recursive: true });
    await cp(path.join(repoRoot, patch), path.join(workspace, patch));
  }
  for (const pkg of packages) {
    await mkdir(path.join(workspace, pkg), { recursive: true });
    await cp(path.join(repoRoot, pkg, "package.json"), path.join(workspace, pkg, "package.json"));
  }
  await run("pnpm", [...args, target], workspace);
  return { from: dir, to: target };
}

interface Image {
  /** The image's filesystem root on this machine. */
  readonly root: string;
  /** WORKDIR, where CMD runs. */
  readonly cwd: string;
  /** ENV, with the image paths in it mapped under `root`. */
  readonly env: Readonly<Record<string, string>>;
  /** Who runs it: the image's USER is unprivileged, so as root this test runs it as `nobody`. */
  readonly user: { uid: number; gid: number } | null;
}

async function unprivilegedUser(): Promise<{ uid: number; gid: number } | null> {
  if (process.getuid?.() !== 0) return null; // already not root
  const passwd = await readFile("/etc/passwd", "utf8");
  const entry = passwd.split("\n").find((line) => line.startsWith("nobody:"));
  const [, , uid, gid] = entry?.split(":") ?? [];
  if (uid === undefined || gid === undefined)
    throw new Error("no nobody user to stand in for the image's user");
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * Lays out the runtime stage: its COPY --from=builder steps (builder paths mapped to the
 * repository and the deploy output) and its RUN steps, which may only make directories and
 * give them to the image's user.
 */
async function assembleRuntimeImage(): Promise<Image> {
  if (!runtime) throw new Error("the Dockerfile has no stage");
  await ensureServerBuild();
  const deployed = await deployProductionDependencies(path.join(work, "deployed"));
  const workdir = stepsOf(runtime, "WORKDIR").at(-1)?.content ?? "/";
  const root = path.join(work, "image");
  const inImage = (p: string) => path.join(root, path.resolve(workdir, p));
  const user = await unprivilegedUser();
  const fromBuilder = (source: string) => {
    if (source === deployed.from || source.startsWith(`${deployed.from}/`)) {
      return path.join(deployed.to, path.relative(deployed.from, source));
    }
    // The builder's workdir holds the build context plus what the build made (server/dist).
    if (source.startsWith(`${BUILDER_WORKDIR}/`))
      return path.join(repoRoot, path.relative(BUILDER_WORKDIR, source));
    throw new Error(`the builder makes no ${source}`);
  };
  for (const step of runtime.steps) {
    if (step.keyword === "COPY") {
      if (step.from !== "builder") throw new Error(`line ${step.line}: COPY from outside the builder`);
      const [source, destination] = step.args;
      if (step.args.length !== 2 || !source || !destination)
        throw new Error(`line ${step.line}: one source expected`);
      const target = inImage(destination);
      await mkdir(path.dirname(target), { recursive: true });
      const from = fromBuilder(source);
      if (from.startsWith(`${deployed.to}${path.sep}`) && (await stat(from)).isDirectory()) {
        // The deployed node_modules is ours alone and large: move it rather than copy it.
        await rename(from, target);
      } else {
        // pnpm's node_modules is a tree of relative links: copy them as links, as Docker does.
        await cp(from, target, { recursive: true, verbatimSymlinks: true });
      }
    } else if (step.keyword === "RUN") {
      for (const command of step.content.split("&&").map((c) => c.trim().split(/\s+/))) {
        const [program, ...args] = command;
        if (program === "mkdir" && args[0] === "-p") {
          for (const dir of args.slice(1)) await mkdir(inImage(dir), { recursive: true });
        } else if (program === "chown" && args.length >= 2) {
          if (user) for (const target of args.slice(1)) await chown(inImage(target), user.uid, user.gid);
        } else {
          throw new Error(`line ${step.line}: this test cannot emulate "${command.join(" ")}"`);
        }
      }
    }
  }
  // The image's user has a home of its own (node's is /home/node).
  const home = path.join(root, "home");
  await mkdir(home, { recursive: true });
  if (user) await chown(home, user.uid, user.gid);
  const env: Record<string, string> = { ...envOf(runtime), HOME: home };
  if (env.DATA_DIR?.startsWith("/")) env.DATA_DIR = inImage(env.DATA_DIR);
  return { root, cwd: inImage("."), env, user };
}

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), "agora-image-"));
  await chmod(work, 0o755); // the image's user must reach its files
  image = await assembleRuntimeImage();
  db = await createTestDatabase({ migrated: false });
}, 300_000);

afterAll(async () => {
  await db.drop();
  await rm(work, { recursive: true, force: true });
});

function runHealthcheck(port: number): Promise<number | null> {
  if (!runtime) throw new Error("the Dockerfile has no stage");
  const step = stepsOf(runtime, "HEALTHCHECK")[0];
  if (!step) throw new Error("no HEALTHCHECK");
  const [command, ...args] = execForm(step);
  if (!command) throw new Error("empty HEALTHCHECK");
  // As Docker runs it: inside the container, as its user, with its environment.
  const child = spawn(command, args, {
    cwd: image.cwd,
    env: { PATH: process.env.PATH ?? "", ...image.env, PORT: String(port) },
    stdio: "ignore",
    ...(image.user ?? {}),
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
}

const LogLine = z
  .object({
    msg: z.string().optional(),
    url: z.string().optional(),
    migrations: z.array(z.string()).optional(),
  })
  .loose();
type LogLine = z.infer<typeof LogLine>;

function parseLogLine(line: string): LogLine {
  try {
    return LogLine.parse(JSON.parse(line));
  } catch {
    return { msg: line };
  }
}

it("starts as the image does: migrates an empty database, serves, passes its healthcheck, stops on SIGTERM", async () => {
  if (!runtime) throw new Error("the Dockerfile has no stage");
  const cmd = stepsOf(runtime, "CMD").at(-1);
  if (!cmd) throw new Error("no CMD in the runtime stage");
  const [command, ...args] = execForm(cmd);
  if (!command) throw new Error("empty CMD");
  const committed = (await readdir(path.join(repoRoot, "prisma", "migrations"), { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const redisUrl = process.env.REDIS_URL;
  const child: ChildProcess = spawn(command, args, {
    cwd: image.cwd,
    ...(image.user ?? {}),
    env: {
      PATH: process.env.PATH ?? "",
      ...image.env,
      // What `docker run -e` would add: the secret, the database, loopback and any free port.
      JWT_SECRET: "production-test-secret-0123456789-abcdefghij",
      HOST: "127.0.0.1",
      PORT: "0",
      // Without DATABASE_URL the embedded database lives in the image's DATA_DIR.
      ...(db.kind === "postgres" ? db.env : {}),
      ...(redisUrl
        ? { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `agora-prod-test:${process.pid.toString()}:` }
        : {}),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: LogLine[] = [];
  let stderr = "";
  let buffered = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    const complete = buffered.split("\n");
    buffered = complete.pop() ?? "";
    for (const line of complete) lines.push(parseLogLine(line));
  });
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));

  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setInterval(() => {
        const listening = lines.find((l) => l.msg?.startsWith("Agora listening") && l.url);
        if (listening?.url) {
          clearInterval(timer);
          resolve(listening.url);
        }
      }, 100);
      void exited.then((code) => {
        clearInterval(timer);
        reject(
          new Error(
            `the server exited (${String(code)}) before listening:\n${stderr}\n${JSON.stringify(lines)}`,
          ),
        );
      });
    });

    // The start itself applied every committed migration.
    expect(lines.find((l) => l.msg === "migrations applied")?.migrations).toEqual(committed);

    const live = await fetch(`${url}/healthz`);
    expect(live.status).toBe(200);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ok", checks: { database: "up" } });

    const anon = createAgoraClient({ url });
    const { user, tokens } = await anon.auth.register.mutate({
      email: "first@example.com",
      username: "first_user",
      password: "Passw0rdGood",
    });
    const me = await createAgoraClient({ url, getAccessToken: () => tokens.accessToken }).users.me.query();
    expect(me.id).toBe(user.id);

    // The REST surface and its rendered docs ship in the image; the panel is off in production.
    const restMe = await fetch(`${url}/api/v1/users/me`, {
      headers: { authorization: `Bearer ${tokens.accessToken}` },
    });
    expect(((await restMe.json()) as { id: string }).id).toBe(user.id);
    expect((await fetch(`${url}/api/openapi.json`)).status).toBe(200);
    expect((await fetch(`${url}/docs`)).status).toBe(200);
    expect((await fetch(`${url}/docs/assets/swagger-ui-bundle.js`)).status).toBe(200);
    expect((await fetch(`${url}/panel`)).status).toBe(404);

    expect(await runHealthcheck(Number(new URL(url).port))).toBe(0);

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(lines.some((l) => l.msg === "shutdown complete")).toBe(true);
    expect(await runHealthcheck(Number(new URL(url).port))).not.toBe(0);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
  }

  // The schema stayed, recorded as Prisma records it (and the embedded database's lock was let go).
  const count = "SELECT count(*)::int AS n FROM _prisma_migrations WHERE finished_at IS NOT NULL";
  if (db.kind === "postgres") {
    const client = new pg.Client({ connectionString: db.env.DATABASE_URL });
    await client.connect();
    const { rows } = await client.query<{ n: number }>(count);
    await client.end();
    expect(rows[0]?.n).toBe(committed.length);
  } else {
    const embedded = await startEmbeddedPostgres(image.env.DATA_DIR ?? path.join(image.cwd, ".data"), 0);
    try {
      const client = new pg.Client({ connectionString: embedded.url });
      await client.connect();
      const { rows } = await client.query<{ n: number }>(count);
      await client.end();
      expect(rows[0]?.n).toBe(committed.length);
    } finally {
      await embedded.stop();
    }
  }
}, 300_000);
