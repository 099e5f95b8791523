import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import pg from "pg";
import { repoRoot } from "../config.js";
import { JobQueue } from "./jobs.js";
import { applyMigrations, readMigrations } from "./migrate.js";
/**
 * A migrated, empty PGlite data directory (Prisma migrations and the job queue's schema), kept as a tarball so that a new embedded database
 * starts from it instead of running initdb and every migration (about 4 s of Wasm initdb on
 * these machines). `pnpm install` builds it (`db:prepare-embedded`); if it is missing or was
 * built for other migrations or another PGlite, the server initialises from scratch and the
 * migrations run as usual: the template is only ever a shortcut.
 */
const cacheDir = path.join(repoRoot, "node_modules", ".cache", "agora");
/** Bumped whenever what the template holds changes (it holds the job schema since format 2). */
const TEMPLATE_FORMAT = "2";
function pgliteVersion() {
    const require = createRequire(import.meta.url);
    let dir = path.dirname(require.resolve("@electric-sql/pglite"));
    for (let i = 0; i < 5; i += 1) {
        try {
            const pkg = require(path.join(dir, "package.json"));
            if (pkg.name === "@electric-sql/pglite" && pkg.version)
                return pkg.version;
        }
        catch {
            // not the package root yet
        }
        dir = path.dirname(dir);
    }
    return "unknown";
}
/** Where the template for these migrations and this PGlite lives. */
export async function templateFile() {
    const migrations = await readMigrations();
    const key = createHash("sha256")
        .update(`${TEMPLATE_FORMAT}:${pgliteVersion()}:`)
        .update(migrations.map((m) => `${m.name}:${m.checksum}`).join("\n"))
        .digest("hex")
        .slice(0, 16);
    return path.join(cacheDir, `pglite-template-${key}.tar.gz`);
}
export async function readTemplate() {
    try {
        return new Blob([await readFile(await templateFile())]);
    }
    catch {
        return null;
    }
}
/** Builds the template (an in-memory PGlite, migrated, dumped); returns its path. */
export async function buildTemplate(log) {
    const file = await templateFile();
    const db = await PGlite.create();
    const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 4 });
    await server.start();
    try {
        const url = `postgresql://postgres:postgres@${server.getServerConn()}/postgres?sslmode=disable`;
        await applyMigrations(url, log);
        // The job queue's schema too (pg-boss creates it on its first start).
        const pool = new pg.Pool({ connectionString: url, max: 1 });
        const jobs = new JobQueue(pool, {
            workers: false,
            pollIntervalSeconds: 2,
            retryLimit: 0,
            retryDelaySeconds: 1,
            log,
        });
        await jobs.start();
        await jobs.stop(1000);
        await pool.end();
    }
    finally {
        await server.stop();
    }
    const dump = await db.dumpDataDir("gzip");
    await db.close();
    await mkdir(cacheDir, { recursive: true });
    // Written aside then renamed: a reader never sees half a tarball.
    const partial = `${file}.${String(process.pid)}.tmp`;
    await writeFile(partial, Buffer.from(await dump.arrayBuffer()));
    await rename(partial, file);
    return file;
}
//# sourceMappingURL=embedded-template.js.map