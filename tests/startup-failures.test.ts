import { randomUUID } from "node:crypto";
import { access, chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { createAgoraClient } from "@agora/client";
import { createTestDatabase, type TestDatabase } from "./support/database.js";
import { freePort, ServerExitedError, startServerProcess, type ServerProcess } from "./support/process.js";
import { withDatabase } from "./support/urls.js";

// Every way a start can fail because of the configuration or the state around the server
// ends the same way: exit code 1, and one line on stderr, "Agora could not start: <cause>",
// naming the cause and what to do; no stack trace anywhere in the output. The server runs
// as its own process, as `pnpm start` or `node server/dist/main.js` run it.

const postgres = Boolean(process.env.DATABASE_URL);
let work: string;
let db: TestDatabase;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), "agora-startup-failures-"));
  await chmod(work, 0o755); // the unprivileged run below must reach its own folder
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
  await rm(work, { recursive: true, force: true });
});

/** The suite's database, quiet logs at info (so anything logged with a stack would show). */
const base = (): Record<string, string> => ({
  LOG_LEVEL: "info",
  BCRYPT_COST: "4",
  JWT_SECRET: "startup-failures-test-secret-0123456789abcdef",
  SEED_DEMO: "false",
  ...db.env,
});

/** A loopback port nothing listens on. */
const closedPort = () => freePort();

/** Starts the server expecting it to refuse; returns its one line (without the prefix). */
async function expectRefusal(
  env: Record<string, string>,
  options: { uid?: number; gid?: number } = {},
): Promise<string> {
  const outcome = await startServerProcess(env, { timeoutMs: 90_000, ...options }).then(
    async (server) => {
      await server.stop();
      return "started";
    },
    (error: unknown) => error,
  );
  if (!(outcome instanceof ServerExitedError))
    throw new Error(`expected the start to be refused, got: ${String(outcome)}`);
  const { code, output, stderr } = outcome;
  expect(code, output).toBe(1);
  const lines = stderr.split("\n").filter((l) => l.trim() !== "");
  expect(lines, output).toHaveLength(1);
  const [line = ""] = lines;
  expect(line, output).toMatch(/^Agora could not start: \S/);
  // No stack trace, printed or inside a JSON log line.
  expect(output).not.toMatch(/^\s+at \S/m);
  expect(output).not.toMatch(/\\n\s+at \S/);
  expect(output).not.toMatch(/"stack":"[^"]/);
  return line.slice("Agora could not start: ".length);
}

describe("start-up failures: one line naming the cause, exit 1, no stack trace", () => {
  it("invalid environment values, each named (no value echoed)", async () => {
    const line = await expectRefusal({
      ...base(),
      PORT: "eighty",
      BCRYPT_COST: "99",
      REDIS_URL: "http://not-redis",
    });
    expect(line).toMatch(/^invalid configuration: /);
    for (const name of ["PORT", "BCRYPT_COST", "REDIS_URL"]) expect(line).toContain(`${name}:`);
    expect(line).not.toContain("eighty");

    const mysql = await expectRefusal({
      ...base(),
      DATABASE_URL: "mysql://agora:secret-password@localhost/agora",
    });
    expect(mysql).toBe(
      "invalid configuration: DATABASE_URL: must be a postgres:// or postgresql:// URL (Agora runs on PostgreSQL only), e.g. postgresql://user:password@localhost:5432/agora",
    );

    const production = await expectRefusal({ ...base(), NODE_ENV: "production", JWT_SECRET: "" });
    expect(production).toBe("invalid configuration: JWT_SECRET: required when NODE_ENV=production");
  }, 120_000);

  it("an ADMIN_PASSWORD or ADMIN_USERNAME the account rules refuse", async () => {
    const weak = await expectRefusal({
      ...base(),
      ADMIN_EMAIL: "boss@example.com",
      ADMIN_PASSWORD: "weakpass",
    });
    expect(weak).toBe(
      "invalid configuration: ADMIN_PASSWORD: Must contain an upper-case letter; Must contain a digit",
    );
    const badName = await expectRefusal({
      ...base(),
      ADMIN_EMAIL: "boss@example.com",
      ADMIN_PASSWORD: "Adm1nPassword",
      ADMIN_USERNAME: "no spaces allowed",
    });
    expect(badName).toMatch(/^invalid configuration: ADMIN_USERNAME: Must be 3 to 30 characters/);
  }, 180_000);

  it("ADMIN_USERNAME already held by another account; a free one then works", async () => {
    // A database where "admin" belongs to someone else (as after the demo data's first start).
    const first = await startServerProcess(base());
    try {
      await createAgoraClient({ url: first.url }).auth.register.mutate({
        email: "someone@example.com",
        username: "admin",
        password: "Passw0rdGood",
      });
    } finally {
      expect(await first.stop()).toBe(0);
    }
    const admin = { ADMIN_EMAIL: "boss@example.com", ADMIN_PASSWORD: "Adm1nPassword" };
    const line = await expectRefusal({ ...base(), ...admin });
    expect(line).toBe(
      'ADMIN_USERNAME "admin" is already taken by another account, so the admin boss@example.com (ADMIN_EMAIL) ' +
        "cannot be created: set ADMIN_USERNAME to a free username, or ADMIN_EMAIL to that account's email to make it the admin",
    );

    // What the message says to do works, and the refused start left nothing behind.
    const second = await startServerProcess({ ...base(), ...admin, ADMIN_USERNAME: "boss" });
    try {
      const { user } = await createAgoraClient({ url: second.url }).auth.login.mutate({
        email: "boss@example.com",
        password: "Adm1nPassword",
      });
      expect(user).toMatchObject({ username: "boss", role: "ADMIN" });
    } finally {
      expect(await second.stop()).toBe(0);
    }
  }, 240_000);

  it("DATABASE_URL unreachable: connection refused, or a host that does not resolve", async () => {
    const port = await closedPort();
    const refused = await expectRefusal({
      ...base(),
      DATABASE_URL: `postgresql://agora:secret-password@127.0.0.1:${String(port)}/agora`,
    });
    expect(refused).toBe(
      `cannot connect to PostgreSQL at 127.0.0.1:${String(port)} (DATABASE_URL): connection refused; is PostgreSQL running there?`,
    );
    const unknown = await expectRefusal({
      ...base(),
      DATABASE_URL: "postgresql://agora:secret-password@no-such-host.invalid:5432/agora",
    });
    expect(unknown).toMatch(
      /^cannot connect to PostgreSQL at no-such-host\.invalid:5432 \(DATABASE_URL\): the host name does not resolve/,
    );
    expect(refused + unknown).not.toContain("secret-password");

    // Without migrations to apply, an unreachable database is an outage, not a bad start: the
    // server starts, says so once, and answers SERVICE_UNAVAILABLE until the database is back.
    const degraded = await startServerProcess({
      ...base(),
      DATABASE_URL: `postgresql://agora:secret-password@127.0.0.1:${String(port)}/agora`,
      MIGRATE_ON_START: "false",
    });
    try {
      expect(degraded.output()).toContain(
        `cannot connect to PostgreSQL at 127.0.0.1:${String(port)} (DATABASE_URL): connection refused; is PostgreSQL running there? Starting anyway (MIGRATE_ON_START=false)`,
      );
      expect((await fetch(`${degraded.url}/readyz`)).status).toBe(503);
    } finally {
      expect(await degraded.stop()).toBe(0);
    }
    // Up to the listening line (what a request logs afterwards is not the start's).
    const startup = degraded.output().split("Agora listening")[0] ?? "";
    expect(startup).toContain("job queue waits for the database to be reachable");
    expect(startup).not.toMatch(/\\n\s+at \S/);
  }, 180_000);

  it("REDIS_URL refusing connections", async () => {
    const port = await closedPort();
    const line = await expectRefusal({ ...base(), REDIS_URL: `redis://127.0.0.1:${String(port)}` });
    expect(line).toBe(
      `cannot connect to Redis at 127.0.0.1:${String(port)} (REDIS_URL): connect ECONNREFUSED 127.0.0.1:${String(port)}`,
    );
  }, 120_000);

  it("the port already in use, and a HOST that is not this machine's", async () => {
    const holder: Server = createServer();
    const port = await new Promise<number>((resolve) => {
      holder.listen(0, "127.0.0.1", () => {
        const address = holder.address();
        resolve(typeof address === "object" && address ? address.port : 0);
      });
    });
    try {
      const line = await expectRefusal({ ...base(), PORT: String(port) });
      expect(line).toBe(
        `127.0.0.1:${String(port)} is already in use by another process (HOST/PORT): stop it, or set PORT to a free port`,
      );
      if (!postgres) {
        // Found before the embedded database is created: a new DATA_DIR is not left behind.
        const dataDir = path.join(work, "port-taken");
        const again = await expectRefusal({ ...base(), DATA_DIR: dataDir, PORT: String(port) });
        expect(again).toBe(line);
        await expect(access(dataDir)).rejects.toThrow(/ENOENT/);
      }
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
    // 192.0.2.1 is TEST-NET-1: never an address of this machine.
    const host = await expectRefusal({ ...base(), HOST: "192.0.2.1", PORT: "0" });
    expect(host).toMatch(
      /^cannot listen on 192\.0\.2\.1:0: HOST 192\.0\.2\.1 is not an address of this machine/,
    );
  }, 180_000);
});

describe.runIf(!postgres)("embedded database folder (DATA_DIR) failures", () => {
  // The embedded database only: with DATABASE_URL the server does not use DATA_DIR for data.
  const embedded = (dataDir: string) => ({ ...base(), DATA_DIR: dataDir });

  it("a folder another live server holds names that server's pid", async () => {
    const dataDir = path.join(work, "locked");
    const holder: ServerProcess = await startServerProcess(embedded(dataDir));
    try {
      const line = await expectRefusal(embedded(dataDir));
      expect(line).toBe(
        `The embedded database in ${dataDir} is in use by another Agora process (pid ${String(holder.child.pid)}): ` +
          "stop that one first, or set DATA_DIR to another folder",
      );
    } finally {
      expect(await holder.stop()).toBe(0);
    }
  }, 120_000);

  it("a folder this user may not write, a file in the way, a damaged database", async () => {
    // Root may write anywhere: as root, the server runs as `nobody` for this case.
    const uid = process.getuid?.();
    let as: { uid: number; gid: number } | undefined;
    if (uid === 0) {
      const entry = (await readFile("/etc/passwd", "utf8")).split("\n").find((l) => l.startsWith("nobody:"));
      const [, , nobodyUid, nobodyGid] = entry?.split(":") ?? [];
      as = { uid: Number(nobodyUid), gid: Number(nobodyGid) };
    }
    const readOnly = path.join(work, "read-only");
    await mkdir(readOnly, { mode: 0o555 });
    await chmod(readOnly, 0o555);
    const dataDir = path.join(readOnly, "data");
    const denied = await expectRefusal(embedded(dataDir), as ?? {});
    expect(denied).toBe(
      `DATA_DIR ${dataDir} is not writable by this user (uid ${String(as?.uid ?? uid)}) (EACCES): ` +
        "give it to that user, or set DATA_DIR to a folder it may write",
    );

    const file = path.join(work, "a-file");
    await writeFile(file, "not a folder");
    const notFolder = await expectRefusal(embedded(file));
    expect(notFolder).toBe(
      `DATA_DIR ${file} is not a folder (EEXIST: a file is in the way): set DATA_DIR to a folder`,
    );

    // A new folder is filled from the template; a file where the template has a folder stops
    // the copy, and the folder is still new (no PG_VERSION) for the next start.
    const blocked = path.join(work, "blocked");
    await mkdir(blocked);
    await writeFile(path.join(blocked, "base"), "in the way");
    const copyLine = await expectRefusal(embedded(blocked));
    expect(copyLine).toMatch(new RegExp(`^DATA_DIR ${blocked} cannot be used: .*${blocked}/base`));
    await expect(access(path.join(blocked, "PG_VERSION"))).rejects.toThrow("ENOENT");

    const damaged = path.join(work, "damaged");
    await mkdir(damaged);
    await writeFile(path.join(damaged, "PG_VERSION"), "not a version\n");
    const line = await expectRefusal(embedded(damaged));
    expect(line).toMatch(
      new RegExp(
        `^the embedded database in ${damaged} could not be opened \\(.+\\): if the folder is damaged`,
      ),
    );
  }, 180_000);
});

describe.runIf(postgres)("PostgreSQL database state (DATABASE_URL)", () => {
  const template = inject("dbTemplate");
  const adminUrl = process.env.DATABASE_URL ?? "";
  const prefix = template.kind === "postgres" ? template.prefix : "unused";
  async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  }

  it("a database that does not exist is created, and said so, when the role may", async () => {
    const name = `${prefix}_missing_${randomUUID().slice(0, 8)}`;
    const server = await startServerProcess({ ...base(), DATABASE_URL: withDatabase(adminUrl, name) });
    try {
      expect(server.output()).toContain(`database \\"${name}\\" did not exist on `);
      const { user } = await createAgoraClient({ url: server.url }).auth.register.mutate({
        email: "first@example.com",
        username: "first",
        password: "Passw0rdGood",
      });
      expect(user.username).toBe("first");
    } finally {
      expect(await server.stop()).toBe(0);
      await admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    }
  }, 120_000);

  it("a database that does not exist, for a role that may not create one, says what to run", async () => {
    const role = { name: `${prefix}_r_${randomUUID().slice(0, 8)}`, password: "role-password-123" };
    const name = `${prefix}_missing_${randomUUID().slice(0, 8)}`;
    await admin((c) => c.query(`CREATE ROLE "${role.name}" LOGIN NOCREATEDB PASSWORD '${role.password}'`));
    try {
      const line = await expectRefusal({ ...base(), DATABASE_URL: withDatabase(adminUrl, name, role) });
      expect(line).toMatch(
        new RegExp(
          `^database "${name}" does not exist on .+ \\(DATABASE_URL\\), and role "${role.name}" may not create databases: ` +
            `create it as a role that may \\(for example: psql -h \\S+ -p \\d+ -U postgres -c 'CREATE DATABASE "${name}" OWNER "${role.name}"'\\), then start again$`,
        ),
      );
      expect(line).not.toContain(role.password);
      const exists = await admin((c) => c.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]));
      expect(exists.rowCount).toBe(0);
    } finally {
      await admin((c) => c.query(`DROP ROLE IF EXISTS "${role.name}"`));
    }
  }, 120_000);

  it("a migration that failed earlier and was never resolved", async () => {
    const broken = await createTestDatabase();
    try {
      const url = broken.env.DATABASE_URL ?? "";
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, 'x', '20991231000000_half_done', now())`,
        [randomUUID()],
      );
      await client.end();
      const line = await expectRefusal({ ...base(), DATABASE_URL: url });
      expect(line).toBe(
        "migration 20991231000000_half_done failed earlier and was never resolved: fix the database, then run: " +
          "pnpm prisma migrate resolve --config prisma.config.ts --applied|--rolled-back 20991231000000_half_done",
      );
    } finally {
      await broken.drop();
    }
  }, 120_000);
});
