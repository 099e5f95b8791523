import { readFileSync } from "node:fs";
import path from "node:path";
import { Copy, DockerfileParser } from "dockerfile-ast";
import { repoRoot } from "./build.js";

export interface Step {
  readonly keyword: string;
  /** The arguments as written, flags excluded (for HEALTHCHECK: from `CMD` on). */
  readonly content: string;
  readonly args: readonly string[];
  /** COPY --from=<stage>. */
  readonly from: string | null;
  readonly line: number;
}

export interface Stage {
  readonly name: string;
  readonly image: string;
  readonly steps: readonly Step[];
}

export const dockerfilePath = path.join(repoRoot, "Dockerfile");

/** The repository's Dockerfile as stages of steps, global ARG defaults substituted in FROM. */
export function readDockerfile(text = readFileSync(dockerfilePath, "utf8")): Stage[] {
  const parsed = DockerfileParser.parse(text);
  const globals = new Map<string, string>();
  const stages: { name: string; image: string; steps: Step[] }[] = [];
  for (const instruction of parsed.getInstructions()) {
    const keyword = instruction.getKeyword();
    const content = instruction.getArgumentsContent() ?? "";
    const args = instruction.getArguments().map((a) => a.getValue());
    const current = stages.at(-1);
    if (keyword === "FROM") {
      const image = (args[0] ?? "").replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a?: string, b?: string) => {
        return globals.get(a ?? b ?? "") ?? "";
      });
      const asIndex = args.findIndex((a) => a.toUpperCase() === "AS");
      stages.push({
        name: asIndex >= 0 ? (args[asIndex + 1] ?? "") : String(stages.length),
        image,
        steps: [],
      });
      continue;
    }
    if (!current) {
      if (keyword === "ARG") {
        const [name, value] = content.split("=", 2);
        if (name && value !== undefined) globals.set(name.trim(), value.trim());
      }
      continue;
    }
    const from = instruction instanceof Copy ? (instruction.getFromFlag()?.getValue() ?? null) : null;
    current.steps.push({
      keyword,
      content,
      args,
      from,
      line: instruction.getRange().start.line + 1,
    });
  }
  return stages;
}

export function stageNamed(stages: readonly Stage[], name: string): Stage {
  const stage = stages.find((s) => s.name === name);
  if (!stage) throw new Error(`the Dockerfile has no stage "${name}"`);
  return stage;
}

export function stepsOf(stage: Stage, keyword: string): Step[] {
  return stage.steps.filter((s) => s.keyword === keyword);
}

/** The `K=V` pairs of a stage's ENV instructions. */
export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const step of stepsOf(stage, "ENV")) {
    for (const pair of step.args) {
      const eq = pair.indexOf("=");
      if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/** The exec-form command of CMD, or of HEALTHCHECK's CMD. */
export function execForm(step: Step): string[] {
  const json = step.keyword === "HEALTHCHECK" ? step.content.replace(/^CMD\s+/, "") : step.content;
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === "string")) {
    throw new Error(`line ${step.line}: ${step.keyword} is not in exec form`);
  }
  return parsed;
}
