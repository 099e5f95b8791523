/**
 * A start-up failure caused by the configuration or the state around the server (a database
 * that cannot be reached, a folder in use, a name already taken), with a message written for
 * the operator: it names the cause and what to do. `main.ts` prints it as one line, without a
 * stack trace, and exits 1.
 */
export class StartupError extends Error {
  override readonly name: string = "StartupError";
}

/** `error.code` of a Node or PostgreSQL error, if it has one. */
export function errorCode(error: unknown): string | undefined {
  return error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined;
}

/** An error's message on one line (PostgreSQL and Prisma messages may span several). */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

export function messageOf(error: unknown): string {
  return oneLine(error instanceof Error ? error.message : String(error));
}
