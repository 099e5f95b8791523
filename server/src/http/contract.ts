import { ACCESS_TEXT, panelProcedures, type PanelProcedure } from "./panel.js";

/**
 * docs/api.md: the public contract, rendered from the live router (the same reading of it as
 * the panel's): every procedure with its kind, who may call it, its input and output fields
 * with their descriptions, the errors its declaration implies, and its REST route. Written by
 * `pnpm docs:contract`; tests/docs.test.ts fails when the committed page differs.
 */

type JsonSchema = Record<string, unknown> & {
  /** An array for a nullable scalar of an output (`["string", "null"]`). */
  type?: string | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
};

interface Row {
  field: string;
  type: string;
  required: boolean;
  description: string;
}

function nonNull(schema: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  if (Array.isArray(schema.type)) {
    const types = schema.type.filter((t) => t !== "null");
    const only = types[0];
    if (types.length === 1 && only !== undefined)
      return { schema: { ...schema, type: only }, nullable: types.length < schema.type.length };
  }
  const branches = schema.anyOf;
  if (!branches) return { schema, nullable: false };
  const rest = branches.filter((b) => b.type !== "null");
  const only = rest[0];
  return rest.length === 1 && only
    ? { schema: { ...only, ...pickDocs(schema) }, nullable: true }
    : { schema, nullable: false };
}

function pickDocs(schema: JsonSchema): JsonSchema {
  return {
    ...(schema.description === undefined ? {} : { description: schema.description }),
    ...(schema.default === undefined ? {} : { default: schema.default }),
  };
}

function typeOf(schema: JsonSchema): string {
  const { schema: inner, nullable } = nonNull(schema);
  let type: string;
  if (inner.enum) type = inner.enum.map((v) => JSON.stringify(v)).join(" | ");
  else if (inner.const !== undefined) type = JSON.stringify(inner.const);
  else if (inner["x-superjson"] === "Date") type = "Date";
  else if (inner.type === "array") type = `${inner.items ? typeOf(inner.items) : "unknown"}[]`;
  else if (inner.type === "integer") type = "integer";
  else if (typeof inner.type === "string") type = inner.type;
  else if (inner.oneOf ?? inner.anyOf) type = "one of";
  else type = "unknown";
  return nullable ? `${type} | null` : type;
}

/** One row per field, nested objects and array items flattened (`data.name`, `items[].quantity`). */
function rows(schema: JsonSchema, prefix = ""): Row[] {
  const out: Row[] = [];
  const inner = nonNull(schema).schema;
  const required = new Set(inner.required ?? []);
  for (const [key, child] of Object.entries(inner.properties ?? {})) {
    const field = `${prefix}${key}`;
    const childInner = nonNull(child).schema;
    const description = child.description ?? childInner.description ?? "";
    const defaultText = child.default === undefined ? "" : ` (default ${JSON.stringify(child.default)})`;
    out.push({
      field,
      type: typeOf(child),
      required: required.has(key) && child.default === undefined,
      description: `${description}${defaultText}`,
    });
    if (childInner.type === "object") out.push(...rows(childInner, `${field}.`));
    if (childInner.type === "array" && childInner.items && nonNull(childInner.items).schema.type === "object")
      out.push(...rows(childInner.items, `${field}[].`));
  }
  return out;
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

function table(schema: JsonSchema, what: "input" | "output"): string {
  const inner = nonNull(schema).schema;
  const branches = inner.oneOf ?? inner.anyOf;
  if (branches && !inner.properties) {
    // A union (a subscription's events): one table per branch.
    return branches
      .map((branch) => `${branch.description ? `${branch.description}:\n\n` : ""}${table(branch, what)}`)
      .join("\n");
  }
  if (inner.type === "array" && inner.items) return `An array of:\n\n${table(inner.items, what)}`;
  const list = rows(schema);
  if (list.length === 0) return `\`${typeOf(schema)}\`\n`;
  const head =
    what === "input"
      ? "| field | type | required | description |\n| --- | --- | --- | --- |"
      : "| field | type | description |\n| --- | --- | --- |";
  const body = list.map((r) =>
    what === "input"
      ? `| \`${r.field}\` | ${cell(r.type)} | ${r.required ? "yes" : "no"} | ${cell(r.description)} |`
      : `| \`${r.field}\` | ${cell(r.type)} | ${cell(r.description)} |`,
  );
  return `${head}\n${body.join("\n")}\n`;
}

/** The errors a procedure's declaration implies; every procedure may also answer the common ones. */
function errors(p: PanelProcedure): string[] {
  const out: string[] = [];
  if (p.input) out.push("`BAD_REQUEST` (400): invalid input, with `data.fieldErrors`");
  if (p.access === "public") out.push("`UNAUTHORIZED` (401): credentials sent that do not check out");
  if (p.access === "signed-in" || p.access === "user" || p.access === "admin")
    out.push("`UNAUTHORIZED` (401): no valid credentials");
  if (p.access === "user") out.push("`FORBIDDEN` (403): called with an API key");
  if (p.access === "admin") out.push("`FORBIDDEN` (403): not an admin");
  return out;
}

export function renderApiContract(): string {
  const procedures = panelProcedures();
  const groups = new Map<string, PanelProcedure[]>();
  for (const p of procedures) {
    const group = p.path.split(".")[0] ?? p.path;
    groups.set(group, [...(groups.get(group) ?? []), p]);
  }
  const out: string[] = [
    "# API: every procedure",
    "",
    "<!-- Generated from the live router by `pnpm docs:contract` (server/src/http/contract.ts). Do not edit: tests/docs.test.ts fails when it is stale. -->",
    "",
    "[README](../README.md) · [Behaviour](behaviour.md) · [REST](rest.md) · [SDK](../client-sdk/README.md)",
    "",
    `${String(procedures.length)} procedures, called at \`/trpc/<procedure>\` with superjson (queries by GET, mutations by POST, subscriptions as server-sent events) or through \`@agora/client\`; those with a REST route are also served under \`/api/v1\`. The same descriptions show in the panel (\`/panel\`), the OpenAPI document (\`/api/openapi.json\`), an editor's hover on the SDK's procedures and fields, and here.`,
    "",
    "## Who may call",
    "",
    "| access | who |",
    "| --- | --- |",
    ...Object.entries(ACCESS_TEXT).map(([access, text]) => `| \`${access}\` | ${text} |`),
    "",
    "Credentials: `Authorization: Bearer <accessToken>` (from `auth.login`, `auth.register` or `auth.refresh`), or `X-Api-Key: <key>` (from `apiKeys.create`); subscriptions may pass them as the connection params `token` / `apiKey`.",
    "",
    "## Errors",
    "",
    'Errors are tRPC errors with `data.code`, `data.httpStatus` and `data.requestId`. Each procedure below lists those its declaration implies; besides them, a procedure answers `NOT_FOUND` for a row that does not exist or that the caller may not see, `CONFLICT` for a unique value taken or a state that forbids the change, `TOO_MANY_REQUESTS` past a rate limit (with `Retry-After`), `SERVICE_UNAVAILABLE` while the database cannot answer, and `INTERNAL_SERVER_ERROR` ("Internal server error" and the request id, never a stack) for anything unexpected.',
    "",
  ];
  for (const [group, list] of groups) {
    out.push(`## ${group}`, "");
    for (const p of list) {
      out.push(`### \`${p.path}\``, "");
      out.push(p.summary ?? "(no summary)", "");
      out.push(
        `- kind: ${p.type}`,
        `- who may call: \`${p.access}\` (${ACCESS_TEXT[p.access]})`,
        `- REST: ${p.rest ? `\`${p.rest.method} ${p.rest.path}\`` : "none"}`,
      );
      const implied = errors(p);
      if (implied.length > 0) out.push(`- errors: ${implied.join("; ")}`);
      out.push("", "Input:", "", p.input ? table(p.input, "input") : "none\n");
      out.push(
        p.type === "subscription" ? "Each event:" : "Output:",
        "",
        p.output ? table(p.output, "output") : "none\n",
      );
    }
  }
  return `${out
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trimEnd()}\n`;
}
