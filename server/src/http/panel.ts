import path from "node:path";
import type { AnyProcedure } from "@trpc/server";
import express, { type Router } from "express";
import { z } from "zod";
import { appRouter } from "../router.js";
import type { ProcedureMeta } from "../trpc/init.js";
import { packageDir, servePage, staticOptions } from "./docs.js";

/** What the panel page needs to know of one procedure. */
export interface PanelProcedure {
  path: string;
  type: "query" | "mutation" | "subscription";
  summary: string | null;
  /** JSON Schema (draft 2020-12) of the input as a caller writes it; null when it takes none. */
  input: Record<string, unknown> | null;
}

function inputSchema(procedure: AnyProcedure): Record<string, unknown> | null {
  const inputs: unknown[] = procedure._def.inputs;
  const parser = inputs[0];
  if (!(parser instanceof z.ZodType)) return null;
  return z.toJSONSchema(parser, {
    io: "input",
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

/**
 * Every procedure of the live router, read from the router itself at first use: a procedure
 * added to any module appears in the panel without touching this file.
 */
export function panelProcedures(): PanelProcedure[] {
  // Flat at run time (`"markets.byId"`), though typed as the nested record.
  const procedures = appRouter._def.procedures as unknown as Record<string, AnyProcedure>;
  return Object.entries(procedures)
    .map(([procedurePath, procedure]) => {
      const meta = procedure._def.meta as ProcedureMeta | undefined;
      return {
        path: procedurePath,
        type: procedure._def.type,
        summary: meta?.openapi?.summary ?? meta?.summary ?? null,
        input: inputSchema(procedure),
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
    res.json({ procedures });
  });
  panel.use("/panel/vendor/superjson", express.static(path.join(superjsonDir, "dist"), staticOptions));
  panel.use("/panel/vendor/copy-anything", express.static(path.join(copyAnythingDir, "dist"), staticOptions));
  return panel;
}
