import {
  getTRPCErrorFromUnknown,
  middlewareMarker,
  TRPCError,
  type AnyProcedure,
  type ProcedureType,
} from "@trpc/server/unstable-core-do-not-import";
import { isShared, markShared } from "../../shared/shared-values.js";

/** What the HTTP handler passes to a procedure call (tRPC's `ProcedureCallOptions`). */
export interface CallOptions {
  readonly ctx: unknown;
  readonly type: ProcedureType;
  readonly path: string;
  readonly getRawInput: () => Promise<unknown>;
  /** Aborted when the client goes away before the answer is written, as tRPC's adapter does. */
  readonly signal: AbortSignal | undefined;
  readonly batchIndex: number;
}

type StepResult =
  | { readonly ok: true; readonly data: unknown; readonly marker: typeof middlewareMarker }
  | { readonly ok: false; readonly error: TRPCError; readonly marker: typeof middlewareMarker };

interface NextOptions {
  ctx?: object;
  input?: unknown;
  getRawInput?: () => Promise<unknown>;
}

interface StepOptions {
  ctx: unknown;
  type: ProcedureType;
  path: string;
  input: unknown;
  getRawInput: () => Promise<unknown>;
  meta: unknown;
  signal: AbortSignal | undefined;
  batchIndex: number;
  next: (options?: NextOptions) => Promise<StepResult>;
}

/** A procedure's middleware (the last one calls the resolver), as tRPC keeps them. */
type Step = ((options: StepOptions) => Promise<StepResult | undefined>) & { _type?: unknown };

/** What each `.output()` validator made of the shared values it checked (see `runOutputStep`). */
const validated = new WeakMap<Step, WeakMap<object, unknown>>();

/**
 * tRPC's output validator (`createOutputMiddleware`: it calls `next()`, then parses the data),
 * run so that a shared value (a cache entry, shared/shared-values.ts) is validated once: the
 * validator is a pure function of a value nobody changes, so its result is kept beside the
 * value and handed out again, itself shared, so the handler can keep its bytes too. Anything
 * else, and the first time, goes through tRPC's own validator with the same result.
 */
async function runOutputStep(step: Step, options: StepOptions): Promise<StepResult | undefined> {
  const result = await options.next();
  const again = () => Promise.resolve(result);
  if (!result.ok || !isShared(result.data)) return step({ ...options, next: again });
  let memo = validated.get(step);
  if (!memo) {
    memo = new WeakMap();
    validated.set(step, memo);
  }
  if (memo.has(result.data)) return { ...result, data: memo.get(result.data) };
  const checked = await step({ ...options, next: again });
  if (checked?.ok) memo.set(result.data, markShared(checked.data));
  return checked;
}

interface Chain {
  readonly steps: readonly Step[];
  readonly meta: unknown;
}

/** The procedure's middleware chain, when it is one this module knows how to run. */
function chainOf(procedure: AnyProcedure): Chain | null {
  const def: { middlewares?: unknown; caller?: unknown; meta?: unknown } = procedure._def;
  const steps = def.middlewares;
  // experimental_caller procedures wrap the chain in the caller's own function.
  if (def.caller !== undefined || procedure._def.experimental_caller) return null;
  if (!Array.isArray(steps) || steps.length === 0) return null;
  if (!steps.every((step) => typeof step === "function")) return null;
  return { steps: steps as Step[], meta: def.meta };
}

async function run(
  chain: Chain,
  index: number,
  options: Omit<StepOptions, "meta" | "next">,
): Promise<StepResult> {
  try {
    const step = chain.steps[index];
    if (!step) {
      throw new TRPCError({
        code: "INTERNAL_SERVER_ERROR",
        message: "The procedure's middleware chain ended without its resolver",
      });
    }
    const stepOptions: StepOptions = {
      ctx: options.ctx,
      type: options.type,
      path: options.path,
      input: options.input,
      getRawInput: options.getRawInput,
      meta: chain.meta,
      signal: options.signal,
      batchIndex: options.batchIndex,
      next: (next) =>
        run(chain, index + 1, {
          ctx: next?.ctx ? { ...(options.ctx as object), ...next.ctx } : options.ctx,
          type: options.type,
          path: options.path,
          input: next && "input" in next ? next.input : options.input,
          getRawInput: next?.getRawInput ?? options.getRawInput,
          signal: options.signal,
          batchIndex: options.batchIndex,
        }),
    };
    const result = await (step._type === "output" ? runOutputStep(step, stepOptions) : step(stepOptions));
    // A middleware that forgot to `return next()`: tRPC's own words and code for it.
    if (result === undefined) {
      throw new TRPCError({
        code: "INTERNAL_SERVER_ERROR",
        message: "No result from middlewares - did you forget to `return next()`?",
      });
    }
    return result;
  } catch (cause) {
    return { ok: false, error: getTRPCErrorFromUnknown(cause), marker: middlewareMarker };
  }
}

const chains = new WeakMap<AnyProcedure, Chain | null>();

function chainFor(procedure: AnyProcedure): Chain | null {
  let chain = chains.get(procedure);
  if (chain === undefined) {
    chain = chainOf(procedure);
    chains.set(procedure, chain);
  }
  return chain;
}

/** Whether `invokeProcedure` runs this procedure's chain itself (false: tRPC's own call). */
export function runsDirectly(procedure: AnyProcedure): boolean {
  return chainFor(procedure) !== null;
}

/**
 * Calls a procedure as `procedure(options)` does, with the same middleware semantics, but
 * without tRPC's per-step object copies: its `callRecursive` builds each step's options
 * with a transpiled object-spread helper (two or three copies per step, by defineProperty),
 * which was 9% of a cached `markets.byId` call in the CPU profile. Here each step gets one
 * object of fixed shape. A procedure whose internals are not the expected shape (another
 * tRPC version, `experimental_caller`) is called the ordinary way;
 * tests/trpc-invoke.test.ts holds the two ways to the same outcomes.
 */
export async function invokeProcedure(procedure: AnyProcedure, options: CallOptions): Promise<unknown> {
  const chain = chainFor(procedure);
  if (!chain) return (await procedure(options)) as unknown;
  const result = await run(chain, 0, { ...options, input: undefined });
  if (!result.ok) throw result.error;
  return result.data;
}
