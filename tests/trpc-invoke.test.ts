import { createServer, get as httpGet } from "node:http";
import type { AddressInfo } from "node:net";
import { initTRPC, TRPCError } from "@trpc/server";
import type {
  AnyProcedure,
  ProcedureCallOptions,
  ProcedureType,
} from "@trpc/server/unstable-core-do-not-import";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ClientDisconnect, invokeProcedure, runsDirectly } from "@agora/server/testing";

/**
 * The fast handler calls procedures through its own middleware runner
 * (server/src/http/trpc-fast/invoke.ts) instead of tRPC's. These procedures exercise what a
 * middleware chain can do; each call goes both ways and must end the same: the same data, or
 * an error with the same code, message and cause.
 */
interface Ctx {
  user: string | null;
  trail: string[];
}

const t = initTRPC.context<Ctx>().meta<{ tag?: string }>().create({ isDev: false });

const record = t.middleware(({ ctx, path, type, meta, batchIndex, next }) => {
  ctx.trail.push(`${type}:${path}:${meta?.tag ?? "-"}:${String(batchIndex)}`);
  return next();
});
const signIn = t.middleware(({ next }) => next({ ctx: { user: "ada" } }));
const requireUser = t.middleware(({ ctx, next }) => {
  if (!ctx.user) throw new TRPCError({ code: "UNAUTHORIZED", message: "who are you" });
  return next({ ctx: { user: ctx.user } });
});
const mapFailures = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.code === "NOT_FOUND") {
    throw new TRPCError({ code: "BAD_REQUEST", message: "mapped", cause: result.error });
  }
  return result;
});

/** An experimental_caller procedure is typed as the caller's function; it is a procedure all the same. */
function asProcedure(value: unknown): AnyProcedure {
  if (typeof value !== "function" || !("_def" in value)) throw new Error("not a procedure");
  return value as AnyProcedure;
}

const procedures = {
  plain: t.procedure.query(() => "plain"),
  withMeta: t.procedure
    .meta({ tag: "tagged" })
    .use(record)
    .query(({ ctx }) => ctx.trail.join("|")),
  contextMerge: t.procedure
    .use(signIn)
    .use(requireUser)
    .use(({ ctx, next }) => next({ ctx: { extra: `${ctx.user}!` } }))
    .query(({ ctx }) => ({ user: ctx.user, extra: ctx.extra, keptTrail: Array.isArray(ctx.trail) })),
  refused: t.procedure.use(requireUser).query(() => "never"),
  twoInputs: t.procedure
    .input(z.object({ a: z.number() }))
    .input(z.object({ b: z.string() }))
    .query(({ input }) => input),
  invalidInput: t.procedure.input(z.object({ n: z.number().int() })).query(({ input }) => input.n),
  inputReplaced: t.procedure
    .use(({ next }) => next({ input: { replaced: true } }))
    .query(({ input }) => input),
  rawInputReplaced: t.procedure
    .use(({ next }) => next({ getRawInput: () => Promise.resolve({ id: "from-middleware" }) }))
    .input(z.object({ id: z.string() }))
    .query(({ input }) => input.id),
  outputChecked: t.procedure.output(z.object({ ok: z.literal(true) })).query(() => ({ ok: true as const })),
  outputBroken: t.procedure
    .output(z.object({ ok: z.literal(true) }))
    .query(() => ({ ok: false }) as unknown as { ok: true }),
  resolverThrows: t.procedure.query(() => {
    throw new Error("plain failure");
  }),
  mappedError: t.procedure.use(mapFailures).query(() => {
    throw new TRPCError({ code: "NOT_FOUND", message: "missing" });
  }),
  asyncMutation: t.procedure.input(z.string()).mutation(async ({ input }) => {
    await Promise.resolve();
    return input.toUpperCase();
  }),
  // A middleware that forgot to `return next()`.
  noResult: t.procedure
    .use(async ({ next }) => {
      await next();
      return undefined as never;
    })
    .query(() => "resolved, but nobody returned it"),
  seesSignal: t.procedure.query(({ signal }) => (signal ? { aborted: signal.aborted } : "no signal")),
  viaCaller: asProcedure(
    t.procedure
      .experimental_caller(async (opts) => {
        const [callOptions] = opts.args as [ProcedureCallOptions<Ctx>];
        const data = await opts.invoke(callOptions);
        return `called:${String(data)}`;
      })
      .query(() => "inner"),
  ),
};

type Outcome = { data: unknown } | { error: { code: string; message: string; cause: string | undefined } };

async function settle(call: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { data: await call() };
  } catch (error) {
    if (!(error instanceof TRPCError)) throw error;
    return { error: { code: error.code, message: error.message, cause: error.cause?.message } };
  }
}

function options(type: ProcedureType, path: string, rawInput: unknown, user: string | null = null) {
  return {
    ctx: { user, trail: [] } satisfies Ctx,
    type,
    path,
    getRawInput: () => Promise.resolve(rawInput),
    signal: undefined,
    batchIndex: 3,
  };
}

const cases: [keyof typeof procedures, unknown, string | null][] = [
  ["plain", undefined, null],
  ["withMeta", undefined, null],
  ["contextMerge", undefined, null],
  ["refused", undefined, null],
  ["refused", undefined, "bob"],
  ["twoInputs", { a: 1, b: "x" }, null],
  ["twoInputs", { a: "1", b: "x" }, null],
  ["invalidInput", { n: 1.5 }, null],
  ["invalidInput", { n: 2 }, null],
  ["inputReplaced", "ignored", null],
  ["rawInputReplaced", { id: "from-client" }, null],
  ["outputChecked", undefined, null],
  ["outputBroken", undefined, null],
  ["resolverThrows", undefined, null],
  ["mappedError", undefined, null],
  ["asyncMutation", "shout", null],
  ["asyncMutation", 42, null],
  ["noResult", undefined, null],
  ["viaCaller", undefined, null],
];

describe("the fast handler's middleware runner ends every call as tRPC's does", () => {
  it.each(cases)("%s with input %j as %s", async (name, rawInput, user) => {
    const procedure: AnyProcedure = procedures[name];
    const type = procedure._def.type;
    const ours = await settle(() => invokeProcedure(procedure, options(type, name, rawInput, user)));
    const theirs = await settle(() => procedure(options(type, name, rawInput, user)));
    expect(ours).toEqual(theirs);
  });

  it("runs the chains of this tRPC version itself, and leaves experimental_caller to tRPC", () => {
    // If an upgrade changed tRPC's internals, every call would quietly take the slower way.
    for (const [name, procedure] of Object.entries(procedures)) {
      expect(runsDirectly(procedure), name).toBe(name !== "viaCaller");
    }
  });

  it("refuses a chain whose middleware returned nothing, in tRPC's words", async () => {
    const ours = await settle(() =>
      invokeProcedure(procedures.noResult, options("query", "noResult", undefined)),
    );
    expect(ours).toEqual({
      error: {
        code: "INTERNAL_SERVER_ERROR",
        message: "No result from middlewares - did you forget to `return next()`?",
        cause: undefined,
      },
    });
  });

  it("hands the resolver the call's abort signal, as tRPC does", async () => {
    const gone = new AbortController();
    gone.abort();
    const call = { ...options("query", "seesSignal", undefined), signal: gone.signal };
    expect(await invokeProcedure(procedures.seesSignal, call)).toEqual({ aborted: true });
    expect(await procedures.seesSignal(call)).toEqual({ aborted: true });
  });

  it("makes the call's signal only when a step reads it, and hands that one on", async () => {
    const gone = new AbortController();
    gone.abort();
    let reads = 0;
    const call = (name: string) => ({
      ...options("query", name, undefined),
      get signal() {
        reads += 1;
        return gone.signal;
      },
    });
    // Middleware (with a context change), an output validator and a resolver: none asks.
    for (const name of ["contextMerge", "outputChecked", "withMeta"] as const) {
      await invokeProcedure(procedures[name], call(name));
    }
    expect(reads).toBe(0);
    expect(await invokeProcedure(procedures.seesSignal, call("seesSignal"))).toEqual({ aborted: true });
    expect(reads).toBe(1);
  });

  it("passes what each step sees: type, path, meta and batch index", async () => {
    const ctx: Ctx = { user: null, trail: [] };
    await invokeProcedure(procedures.withMeta, { ...options("query", "withMeta", undefined), ctx });
    expect(ctx.trail).toEqual(["query:withMeta:tagged:3"]);
  });

  it("does not let a step's context leak into the caller's object", async () => {
    const ctx: Ctx = { user: null, trail: [] };
    const data = await invokeProcedure(procedures.contextMerge, { ...options("query", "x", undefined), ctx });
    expect(data).toEqual({ user: "ada", extra: "ada!", keptTrail: true });
    expect(ctx.user).toBeNull();
  });
});

/**
 * The fast handler's signal for a call (ClientDisconnect): made on first read, aborted when the
 * client goes away before the answer is written, over a real socket.
 */
describe("ClientDisconnect", () => {
  type Seen = { read: "before close" | "after close"; aborted: boolean };

  /** A server whose one request is answered (or not) as `answer` says; resolves with what the signal said. */
  async function observe(answer: "end" | "hang", read: Seen["read"]): Promise<Seen> {
    let settle: (seen: Seen) => void = () => undefined;
    const seen = new Promise<Seen>((resolve) => {
      settle = resolve;
    });
    const server = createServer((_req, res) => {
      const disconnect = new ClientDisconnect(res);
      if (read === "before close") {
        const signal = disconnect.signal;
        res.once("close", () => {
          // The signal's own close listener was added first, so it has run by now.
          settle({ read, aborted: signal.aborted });
        });
      } else {
        res.once("close", () => {
          setImmediate(() => {
            settle({ read, aborted: disconnect.signal.aborted });
          });
        });
      }
      if (answer === "end") res.end("done");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const request = httpGet({ host: "127.0.0.1", port, path: "/" }, (res) => {
      res.resume();
    });
    request.on("error", () => undefined);
    if (answer === "hang") setTimeout(() => request.destroy(), 50);
    try {
      return await seen;
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }

  it("aborts when the client goes away before the answer, whenever it is read", async () => {
    expect(await observe("hang", "before close")).toEqual({ read: "before close", aborted: true });
    expect(await observe("hang", "after close")).toEqual({ read: "after close", aborted: true });
  });

  it("never aborts for a call that was answered", async () => {
    expect(await observe("end", "before close")).toEqual({ read: "before close", aborted: false });
    expect(await observe("end", "after close")).toEqual({ read: "after close", aborted: false });
  });
});
