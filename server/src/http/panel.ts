import path from "node:path";
import type { AnyProcedure } from "@trpc/server";
import express, { type Router } from "express";
import { z } from "zod";
import { appRouter } from "../router.js";
import { trackedEventSchemas } from "../shared/async-iterable.js";
import type { ProcedureAccess, ProcedureMeta } from "../trpc/init.js";
import { packageDir, servePage, staticOptions } from "./docs.js";
import { REST_BASE_PATH } from "./lazy.js";

/** What the panel page (and the API page, docs/api.md) needs to know of one procedure. */
export interface PanelProcedure {
  path: string;
  type: "query" | "mutation" | "subscription";
  /** One line: `openapi.summary ?? summary`. */
  summary: string | null;
  /** Who may call it (meta.access, set by the procedure builders in trpc/init.ts). */
  access: ProcedureAccess;
  /** JSON Schema (draft 2020-12) of the input as a caller writes it; null when it takes none. */
  input: Record<string, unknown> | null;
  /**
   * JSON Schema of what it returns (a subscription: of one event); null when it declares no
   * output.
   */
  output: Record<string, unknown> | null;
  /** Its REST route under /api/v1, when it has one. */
  rest: { method: string; path: string } | null;
}

/** What each access level means, in words (the panel's markers and docs/api.md say this). */
export const ACCESS_TEXT: Readonly<Record<ProcedureAccess, string>> = {
  anonymous: "anyone; credentials are not read",
  public: "anyone; credentials are checked when sent",
  "signed-in": "a signed-in user or an API key",
  user: "a signed-in user (not an API key)",
  admin: "an admin: a user or an API key with role ADMIN",
};

function jsonSchema(parser: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  return z.toJSONSchema(parser, {
    io,
    unrepresentable: "any",
    // JSON has no dates; the panel sends them through superjson, so it must know which they are.
    override: ({ zodSchema, jsonSchema }) => {
      if (zodSchema._zod.def.type === "date") {
        jsonSchema.type = "string";
        jsonSchema.format = "date-time";
        jsonSchema["x-superjson"] = "Date";
      }
    },
  });
}

function inputSchema(procedure: AnyProcedure): Record<string, unknown> | null {
  const inputs: unknown[] = procedure._def.inputs;
  const parser = inputs[0];
  return parser instanceof z.ZodType ? jsonSchema(parser, "input") : null;
}

function outputSchema(procedure: AnyProcedure): Record<string, unknown> | null {
  const parser: unknown = (procedure._def as { output?: unknown }).output;
  if (!(parser instanceof z.ZodType)) return null;
  // A subscription's output validates a stream: show one of its events.
  return jsonSchema(trackedEventSchemas.get(parser) ?? parser, "output");
}

/**
 * Every procedure of the live router, read from the router itself at first use: a procedure
 * added to any module appears in the panel without touching this file.
 */
export function panelProcedures(): PanelProcedure[] {
  // Flat at run time (`"markets.byId"`), though typed as the nested record.
  const procedures = appRouter._def.procedures as unknown as Record<string, AnyProcedure>;
  return Object.entries(procedures)
    .map(([procedurePath, procedure]): PanelProcedure => {
      const meta = procedure._def.meta as ProcedureMeta | undefined;
      return {
        path: procedurePath,
        type: procedure._def.type,
        summary: meta?.openapi?.summary ?? meta?.summary ?? null,
        // Every builder sets it; a procedure made from t.procedure itself would be open to anyone.
        access: meta?.access ?? "anonymous",
        input: inputSchema(procedure),
        output: outputSchema(procedure),
        rest: meta?.openapi
          ? { method: meta.openapi.method, path: `${REST_BASE_PATH}${meta.openapi.path}` }
          : null,
      };
    })
    .sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * /panel: a page to try every procedure in a browser (forms generated from the zod input
 * schemas, superjson on the wire, a Bearer token from a login run in the page). Everything it
 * loads comes from this server: the page, its script, and superjson's ES modules from the
 * installed package, so it works without internet.
 */
export function panelRouter(): Router {
  const panel = express.Router();
  let procedures: PanelProcedure[] | undefined;
  const superjsonDir = packageDir("superjson");
  const copyAnythingDir = packageDir("copy-anything", path.join(superjsonDir, "package.json"));

  servePage(panel, "/panel", "panel");
  panel.get("/panel/procedures.json", (_req, res) => {
    procedures ??= panelProcedures();
    res.json({ procedures, access: ACCESS_TEXT });
  });
  panel.use("/panel/vendor/superjson", express.static(path.join(superjsonDir, "dist"), staticOptions));
  panel.use("/panel/vendor/copy-anything", express.static(path.join(copyAnythingDir, "dist"), staticOptions));
  return panel;
}
