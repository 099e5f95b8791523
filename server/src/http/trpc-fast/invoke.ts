import {
  getTRPCErrorFromUnknown,
  middlewareMarker,
  TRPCError,
  type AnyProcedure,
  type ProcedureType,
} from "@trpc/server/unstable-core-do-not-import";
import type { ServerResponse } from "node:http";
import { isShared, markShared } from "../../shared/shared-values.js";

/** What the HTTP handler passes to a procedure call (tRPC's `ProcedureCallOptions`). */
export interface CallOptions {
  readonly ctx: unknown;
  readonly type: ProcedureType;
  readonly path: string;
  readonly getRawInput: () => Promise<unknown>;
  /**
   * Aborted when the client goes away before the answer is written, as tRPC's adapter does.
   * It may be a getter that makes the signal when first read (see `ClientDisconnect`): it is
   * read only by a middleware or resolver that asks for it, never copied along the chain.
   */
  readonly signal: AbortSignal | undefined;
  readonly batchIndex: number;
}

/** A call's options whose `signal` is made when first read (see `ClientDisconnect`). */
export class FastCallOptions implements CallOptions {
  constructor(
    readonly ctx: unknown,
    readonly type: ProcedureType,
    readonly path: string,
    readonly getRawInput: () => Promise<unknown>,
    private readonly disconnect: ClientDisconnect,
    readonly batchIndex: number,
  ) {}

  get signal(): AbortSignal {
    return this.disconnect.signal;
  }
}

/**
 * The signal of a call whose client may go away before its answer is written: made on first
 * read, so a call whose procedure never reads it costs no AbortController and no `close`
 * listener (a tenth of a trivial call's CPU time in the profile). Read while the request is
 * open, it aborts when the response closes unfinished; read after the client has gone, it is
 * already aborted: what a signal made at the start would say at that moment.
 */
export class ClientDisconnect {
  #controller: AbortController | undefined;

  constructor(private readonly res: ServerResponse) {}

  get signal(): AbortSignal {
    if (this.#controller) return this.#controller.signal;
    const controller = new AbortController();
    this.#controller = controller;
    const res = this.res;
    if (res.closed) {
      if (!res.writableEnded) controller.abort();
    } else {
      res.once("close", () => {
        if (!res.writableEnded) controller.abort();
      });
    }
    return controller.signal;
  }
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
  readonly signal: AbortSignal | undefined;
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
async function runOutputStep(
  step: Step,
  options: StepOptions,
  withNext: (next: StepOptions["next"]) => StepOptions,
): Promise<StepResult | undefined> {
  const result = await options.next();
  // The same options, whose next() hands back this result.
  const replay = withNext(() => Promise.resolve(result));
  if (!result.ok || !isShared(result.data)) return step(replay);
  let memo = validated.get(step);
  if (!memo) {
    memo = new WeakMap();
    validated.set(step, memo);
  }
  if (memo.has(result.data)) return { ...result, data: memo.get(result.data) };
  const checked = await step(replay);
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

/** What changes from one step to the next; the rest is the call's (`CallOptions`). */
interface StepState {
  readonly ctx: unknown;
  readonly input: unknown;
  readonly getRawInput: () => Promise<unknown>;
}

/**
 * One step's options, of one fixed shape. `signal` is a getter onto the call's, on the
 * prototype (an object literal with a getter is built by the runtime, several times slower,
 * which the bench showed): copying it would make the call's signal whether or not anything
 * reads it (see `ClientDisconnect`).
 */
class StepCall implements StepOptions {
  readonly type: ProcedureType;
  readonly path: string;
  readonly batchIndex: number;

  constructor(
    private readonly call: CallOptions,
    readonly meta: unknown,
    readonly ctx: unknown,
    readonly input: unknown,
    readonly getRawInput: () => Promise<unknown>,
    readonly next: StepOptions["next"],
  ) {
    this.type = call.type;
    this.path = call.path;
    this.batchIndex = call.batchIndex;
  }

  get signal(): AbortSignal | undefined {
    return this.call.signal;
  }
}

async function run(chain: Chain, index: number, call: CallOptions, state: StepState): Promise<StepResult> {
  try {
    const step = chain.steps[index];
    if (!step) {
      throw new TRPCError({
        code: "INTERNAL_SERVER_ERROR",
        message: "The procedure's middleware chain ended without its resolver",
      });
    }
    const withNext = (next: StepOptions["next"]) =>
      new StepCall(call, chain.meta, state.ctx, state.input, state.getRawInput, next);
    const options = withNext((next) =>
      run(chain, index + 1, call, {
        ctx: next?.ctx ? { ...(state.ctx as object), ...next.ctx } : state.ctx,
        input: next && "input" in next ? next.input : state.input,
        getRawInput: next?.getRawInput ?? state.getRawInput,
      }),
    );
    const result = await (step._type === "output" ? runOutputStep(step, options, withNext) : step(options));
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
  // tRPC's own call copies its options by spreading them: the signal is read for it here.
  if (!chain) return (await procedure({ ...options, signal: options.signal })) as unknown;
  const result = await run(chain, 0, options, {
    ctx: options.ctx,
    input: undefined,
    getRawInput: options.getRawInput,
  });
  if (!result.ok) throw result.error;
  return result.data;
}
