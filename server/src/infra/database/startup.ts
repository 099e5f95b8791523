import pg from "pg";
import { isDatabaseUnavailable } from "../../shared/prisma-errors.js";
import type { Logger } from "../logger.js";
import { errorCode, messageOf, StartupError } from "../startup-error.js";

/** How long the start-up check waits for PostgreSQL to answer at all. */
const CONNECT_TIMEOUT_MS = 10_000;

interface Target {
  readonly host: string;
  readonly port: number;
  readonly where: string;
  readonly user: string;
  readonly database: string;
}

function targetOf(client: pg.Client): Target {
  const host = client.host.startsWith("/") ? `socket ${client.host}` : client.host;
  return {
    host: client.host,
    port: client.port,
    where: `${host}:${String(client.port)}`,
    user: client.user ?? "",
    database: client.database ?? "",
  };
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** One line naming why PostgreSQL could not be reached; never the password. */
function connectFailure(error: unknown, target: Target): string {
  const code = errorCode(error);
  const message = messageOf(error);
  const prefix = `cannot connect to PostgreSQL at ${target.where} (DATABASE_URL)`;
  if (code === "ECONNREFUSED") return `${prefix}: connection refused; is PostgreSQL running there?`;
  if (code === "ENOTFOUND" || code === "EAI_AGAIN")
    return `${prefix}: the host name does not resolve (${code})`;
  if (
    code === "ETIMEDOUT" ||
    code === "EHOSTUNREACH" ||
    code === "ENETUNREACH" ||
    /connection timeout/i.test(message)
  ) {
    return `${prefix}: no answer within ${String(CONNECT_TIMEOUT_MS / 1000)} s (${code ?? "timeout"}); check the host, the port and any firewall`;
  }
  if (code === "28P01" || code === "28000")
    return `${prefix}: login of role "${target.user}" refused: ${message}`;
  return `${prefix}: ${message}`;
}

/**
 * Creates the database DATABASE_URL names, from the maintenance database `postgres` with the
 * same role, when that role may; otherwise says what to run.
 */
async function createDatabase(url: string, target: Target, log: Logger): Promise<void> {
  const howTo =
    `create it as a role that may (for example: psql -h ${target.host} -p ${String(target.port)} -U postgres -c ` +
    `'CREATE DATABASE ${quoteIdent(target.database)} OWNER ${quoteIdent(target.user)}'), then start again`;
  const missing = `database "${target.database}" does not exist on ${target.where} (DATABASE_URL)`;
  const maintenanceUrl = new URL(url);
  maintenanceUrl.pathname = "/postgres";
  const client = new pg.Client({
    connectionString: maintenanceUrl.toString(),
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  try {
    await client.connect();
  } catch (error) {
    throw new StartupError(`${missing}, and it could not be created (${messageOf(error)}): ${howTo}`);
  }
  try {
    await client.query(`CREATE DATABASE ${quoteIdent(target.database)}`);
    log.info(
      { database: target.database, server: target.where },
      `database "${target.database}" did not exist on ${target.where}: created it`,
    );
  } catch (error) {
    const code = errorCode(error);
    if (code === "42P04") return; // another instance created it a moment ago
    if (code === "42501")
      throw new StartupError(`${missing}, and role "${target.user}" may not create databases: ${howTo}`);
    throw new StartupError(`${missing}, and it could not be created (${messageOf(error)}): ${howTo}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The start-up check of a real PostgreSQL: it answers, lets this role in, and has the
 * database (created here when missing and the role may). Failures are StartupErrors naming
 * the cause, except an unreachable server when the start does not need it (`required`
 * false: MIGRATE_ON_START=false): then the server starts anyway and answers
 * SERVICE_UNAVAILABLE until the database is back, as it does for an outage later on.
 */
export async function ensurePostgresDatabase(url: string, log: Logger, required: boolean): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  const target = targetOf(client);
  try {
    await client.connect();
  } catch (error) {
    // 3D000: invalid_catalog_name, the database does not exist.
    if (errorCode(error) === "3D000") {
      await createDatabase(url, target, log);
      return;
    }
    if (!required && isDatabaseUnavailable(error)) {
      log.warn(
        `${connectFailure(error, target)} Starting anyway (MIGRATE_ON_START=false): ` +
          "calls that need the database answer SERVICE_UNAVAILABLE until it answers.",
      );
      return;
    }
    throw new StartupError(connectFailure(error, target));
  }
  await client.end();
}
