import { createServer } from "node:net";
import { ConfigError, type Config } from "./config.js";
import { errorCode, messageOf, StartupError } from "./infra/startup-error.js";

/** `host:port` as one would type it (IPv6 in brackets). */
export function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${String(port)}`;
}

function field(error: unknown, name: string): unknown {
  return error instanceof Error ? (error as unknown as Record<string, unknown>)[name] : undefined;
}

/**
 * What to print when the server cannot start: one line naming the cause. Failures that know
 * their cause are StartupError or ConfigError; the HTTP listener's own errors are recognised
 * here; anything else is reported as unexpected, by its message (its stack is logged at
 * LOG_LEVEL=debug).
 */
export function describeStartupFailure(error: unknown, config: Pick<Config, "host" | "port">): string {
  if (error instanceof StartupError || error instanceof ConfigError) return messageOf(error);
  const code = errorCode(error);
  const where = hostPort(config.host, config.port);
  if (field(error, "syscall") === "listen") {
    if (code === "EADDRINUSE")
      return `${where} is already in use by another process (HOST/PORT): stop it, or set PORT to a free port`;
    if (code === "EACCES")
      return `not allowed to listen on ${where} (PORT): ports below 1024 need privileges; set PORT to 1024 or above`;
    if (code === "EADDRNOTAVAIL")
      return `cannot listen on ${where}: HOST ${config.host} is not an address of this machine (0.0.0.0 listens on every interface, 127.0.0.1 on this machine only)`;
  }
  if ((code === "ENOTFOUND" || code === "EAI_AGAIN") && field(error, "hostname") === config.host) {
    return `cannot listen on ${where}: HOST "${config.host}" does not resolve to an address`;
  }
  const name = error instanceof Error ? error.name : "Error";
  return `unexpected ${name}: ${messageOf(error)} (start with LOG_LEVEL=debug to log its stack trace)`;
}

/**
 * Fails (with the listener's own error, which describeStartupFailure names) when HOST:PORT
 * cannot be listened on, by listening and closing at once. Checked before anything slow or
 * lasting is done (opening or creating the embedded database); PORT=0 needs no check.
 */
export async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", reject);
    probe.listen({ port, host, exclusive: true }, () => {
      probe.close(() => {
        resolve();
      });
    });
  });
}
