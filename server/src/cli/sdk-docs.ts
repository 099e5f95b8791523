// The SDK's hover docs, from the one source the panel, the OpenAPI document and docs/api.md
// read: every procedure's summary, description and access, and the JSON Schema (with the zod
// `.describe()` texts) of its input and output. Run by client-sdk/scripts/build.mjs, which
// writes them as JSDoc into the router's declarations; prints JSON to stdout.
import type { AnyProcedure } from "@trpc/server";
import { ACCESS_TEXT, panelProcedures } from "../http/panel.js";
import { appRouter } from "../router.js";
import type { ProcedureMeta } from "../trpc/init.js";

const definitions = appRouter._def.procedures as unknown as Record<string, AnyProcedure>;
const procedures = panelProcedures().map((p) => {
  const meta = definitions[p.path]?._def.meta as ProcedureMeta | undefined;
  return {
    path: p.path,
    summary: p.summary,
    description: meta?.openapi?.description ?? null,
    access: p.access,
    accessText: ACCESS_TEXT[p.access],
    rest: p.rest,
    input: p.input,
    output: p.output,
  };
});
process.stdout.write(`${JSON.stringify({ procedures })}\n`);
