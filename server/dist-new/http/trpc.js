import { getErrorShape, getHTTPStatusCode, getProcedureAtPath, getTRPCErrorFromUnknown, isAsyncIterable, isObject, isPromise, transformTRPCResponse, TRPCError, urlPathToProcedurePath, } from "@trpc/server/unstable-core-do-not-import";
const VARY = "trpc-accept, accept";
function contentType(req) {
    return req.headers["content-type"]?.split(";", 1)[0]?.trim().toLowerCase();
}
/** Reads a body of at most `limit` bytes; more is tRPC's PAYLOAD_TOO_LARGE. */
function readBody(req, limit) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        let size = 0;
        const onData = (chunk) => {
            size += chunk.length;
            if (size > limit) {
                cleanup();
                reject(new TRPCError({ code: "PAYLOAD_TOO_LARGE" }));
                return;
            }
            chunks.push(chunk);
        };
        const onEnd = () => {
            cleanup();
            resolve(Buffer.concat(chunks).toString("utf8"));
        };
        const onError = (err) => {
            cleanup();
            reject(err);
        };
        const cleanup = () => {
            req.off("data", onData);
            req.off("end", onEnd);
            req.off("error", onError);
        };
        req.on("data", onData);
        req.on("end", onEnd);
        req.on("error", onError);
    });
}
/** What tRPC refuses to send as a plain JSON answer (promises or iterables inside the data). */
function isDataStream(value) {
    if (!isObject(value))
        return false;
    if (isAsyncIterable(value))
        return true;
    const values = Object.values(value);
    return values.some(isPromise) || values.some(isAsyncIterable);
}
const ACCEPTED_METHOD = {
    query: "GET",
    mutation: "POST",
    subscription: "GET",
};
export function fastTrpcHandler(options) {
    const { router, maxBodySize, maxBatchSize, fallback } = options;
    const config = router._def._config;
    return (req, res, next) => {
        const method = req.method;
        if (method !== "GET" && method !== "POST")
            return fallback(req, res, next);
        if (req.headers["trpc-accept"] !== undefined)
            return fallback(req, res, next);
        if (req.headers.accept?.includes("text/event-stream"))
            return fallback(req, res, next);
        if (method === "POST") {
            if (contentType(req) !== "application/json")
                return fallback(req, res, next);
            if (Number(req.headers["content-length"] ?? 0) > maxBodySize)
                return fallback(req, res, next);
        }
        // Mounted under /trpc: req.url is "/<path>?<query>".
        const url = req.url;
        const q = url.indexOf("?");
        const search = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
        if (search.has("connectionParams"))
            return fallback(req, res, next);
        let decoded;
        try {
            decoded = decodeURIComponent(url.slice(1, q < 0 ? undefined : q));
        }
        catch {
            return fallback(req, res, next);
        }
        const path = urlPathToProcedurePath(decoded, config.pathSeparator);
        const isBatchCall = search.get("batch") === "1";
        const paths = isBatchCall ? path.split(",") : [path];
        if (paths.length > maxBatchSize)
            return fallback(req, res, next);
        void handle(req, res, next, search, paths, isBatchCall).catch(next);
    };
    async function handle(req, res, next, search, paths, isBatchCall) {
        const calls = await Promise.all(paths.map(async (path, batchIndex) => ({
            path,
            batchIndex,
            procedure: await getProcedureAtPath(router, path),
        })));
        const types = new Set();
        for (const call of calls)
            if (call.procedure)
                types.add(call.procedure._def.type);
        if (types.size > 1 || types.has("subscription")) {
            fallback(req, res, next);
            return;
        }
        const type = types.values().next().value ?? "unknown";
        // The inputs, read and parsed once, lazily (a procedure without input never reads the body).
        let inputs;
        let reading;
        const readInputs = async () => {
            let raw;
            if (req.method === "GET") {
                const query = search.get("input");
                if (query)
                    raw = JSON.parse(query);
            }
            else {
                const body = await readBody(req, maxBodySize);
                if (body)
                    raw = JSON.parse(body);
            }
            const result = {};
            if (raw === undefined)
                return result;
            if (!isBatchCall) {
                result[0] = config.transformer.input.deserialize(raw);
                return result;
            }
            if (!isObject(raw)) {
                throw new TRPCError({
                    code: "BAD_REQUEST",
                    message: '"input" needs to be an object when doing a batch call',
                });
            }
            for (const index of paths.keys()) {
                const value = raw[index];
                if (value !== undefined)
                    result[index] = config.transformer.input.deserialize(value);
            }
            return result;
        };
        const getInputs = async () => {
            if (inputs)
                return inputs;
            reading ??= readInputs().catch((cause) => {
                if (cause instanceof TRPCError)
                    throw cause;
                throw new TRPCError({
                    code: "BAD_REQUEST",
                    message: cause instanceof Error ? cause.message : "Invalid input",
                    cause,
                });
            });
            inputs = await reading;
            return inputs;
        };
        let ctx;
        let ctxError;
        try {
            ctx = await options.createContext(req, res);
        }
        catch (cause) {
            ctxError = getTRPCErrorFromUnknown(cause);
        }
        const outcomes = await Promise.all(calls.map(async (call) => {
            const proc = call.procedure;
            try {
                if (!proc)
                    throw new TRPCError({ code: "NOT_FOUND", message: `No procedure found on path "${call.path}"` });
                const procType = proc._def.type;
                if (ACCEPTED_METHOD[procType] !== req.method) {
                    res.setHeader("allow", ACCEPTED_METHOD[procType]);
                    throw new TRPCError({
                        code: "METHOD_NOT_SUPPORTED",
                        message: `Unsupported ${req.method}-request to ${procType} procedure at path "${call.path}"`,
                    });
                }
                if (ctxError)
                    throw ctxError;
                const data = await proc({
                    path: call.path,
                    getRawInput: async () => (await getInputs())[call.batchIndex],
                    ctx,
                    type: procType,
                    signal: undefined,
                    batchIndex: call.batchIndex,
                });
                if (isDataStream(data)) {
                    throw new TRPCError({
                        code: "UNSUPPORTED_MEDIA_TYPE",
                        message: "Cannot use stream-like response in non-streaming request - use httpBatchStreamLink",
                    });
                }
                return { data };
            }
            catch (cause) {
                const error = getTRPCErrorFromUnknown(cause);
                options.onError({
                    error,
                    path: call.path,
                    type: proc?._def.type ?? "unknown",
                    ctx,
                    input: inputs?.[call.batchIndex],
                });
                return { error };
            }
        }));
        // Index-aligned, as tRPC passes them (a sparse array: successes have no entry).
        const errors = [];
        const untransformed = outcomes.map((outcome, index) => {
            const call = calls[index];
            if ("error" in outcome) {
                errors[index] = outcome.error;
                return {
                    error: getErrorShape({
                        config,
                        ctx,
                        error: outcome.error,
                        input: inputs?.[index],
                        path: call?.path,
                        type: call?.procedure?._def.type ?? (isBatchCall ? "unknown" : type),
                    }),
                };
            }
            return { result: { data: outcome.data } };
        });
        const status = getHTTPStatusCode(untransformed, errors);
        const body = JSON.stringify(transformTRPCResponse(config, isBatchCall ? untransformed : (untransformed[0] ?? { result: { data: null } })));
        res.statusCode = status;
        res.setHeader("vary", VARY);
        res.setHeader("content-type", "application/json");
        res.end(body);
    }
}
//# sourceMappingURL=trpc.js.map