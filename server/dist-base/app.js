import { randomUUID } from "node:crypto";
import * as trpcExpress from "@trpc/server/adapters/express";
import compression from "compression";
import cors from "cors";
import express, {} from "express";
import helmet from "helmet";
import { pinoHttp } from "pino-http";
import responseTime from "response-time";
import { metricsHandler } from "./http/metrics.js";
import { fastTrpcHandler } from "./http/trpc.js";
import { appRouter } from "./router.js";
export const MAX_BODY_BYTES = 1024 * 1024;
export const MAX_BATCH_SIZE = 50;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const requestId = (req, res, next) => {
    const incoming = req.get("x-request-id");
    const id = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.requestId = id;
    res.setHeader("X-Request-Id", id);
    next();
};
function bearerToken(header) {
    if (!header)
        return null;
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    return match?.[1] ?? null;
}
function stringParam(params, key) {
    const value = params?.[key];
    return typeof value === "string" && value.length > 0 ? value : null;
}
export function createApp({ config, log, services }, options = {}) {
    const app = express();
    app.disable("x-powered-by");
    app.set("trust proxy", config.trustProxy);
    app.use(requestId);
    app.use(responseTime((_req, res, ms) => {
        res.setHeader("Server-Timing", `app;dur=${ms.toFixed(1)}`);
    }));
    app.use(pinoHttp({
        logger: log,
        genReqId: (req) => req.requestId ?? randomUUID(),
        customLogLevel: (_req, res, err) => err || res.statusCode >= 500 ? "error" : res.statusCode >= 400 ? "warn" : "info",
        // Only what is needed to trace a request; never headers, which carry credentials.
        serializers: {
            req: (req) => ({
                id: req.id,
                method: req.method,
                url: req.url.split("?")[0],
            }),
            res: (res) => ({ statusCode: res.statusCode }),
        },
    }));
    app.use(helmet({
        // The panel and docs pages load their own inline scripts; the API itself serves JSON.
        contentSecurityPolicy: false,
    }));
    app.use(cors({
        origin: (origin, cb) => {
            cb(null, origin === undefined || config.corsOrigins.includes("*") || config.corsOrigins.includes(origin));
        },
        credentials: true,
        exposedHeaders: ["X-Request-Id", "Server-Timing", "Retry-After"],
    }));
    app.use(compression({
        // Server-sent events must reach the client as they happen, not when a gzip block fills.
        filter: (req, res) => !(req.headers.accept ?? "").includes("text/event-stream") &&
            !String(res.getHeader("Content-Type") ?? "").includes("text/event-stream") &&
            compression.filter(req, res),
    }));
    app.get("/healthz", (_req, res) => {
        res.json({ status: "ok" });
    });
    app.get("/readyz", async (_req, res) => {
        const readiness = await services.health.readiness();
        res.status(readiness.status === "ok" ? 200 : 503).json(readiness);
    });
    app.get("/metrics", metricsHandler(config, services.metrics));
    const createContext = (req, res, connectionParams) => ({
        services,
        requestId: req.requestId ?? randomUUID(),
        ip: req.ip ?? req.socket.remoteAddress ?? "unknown",
        // pino-http's logger of this request (it carries the request id).
        log: req.log,
        credentials: {
            // EventSource cannot send headers, so subscriptions may pass credentials as connection params.
            bearer: bearerToken(req.get("authorization")) ?? stringParam(connectionParams, "token"),
            apiKey: req.get("x-api-key") ?? stringParam(connectionParams, "apiKey"),
        },
        setHeader: (name, value) => {
            if (!res.headersSent)
                res.setHeader(name, value);
        },
    });
    const onProcedureError = ({ error, path, ctx, }) => {
        if (error.code === "INTERNAL_SERVER_ERROR") {
            (ctx?.log ?? log).error({ err: error.cause ?? error, path }, "procedure failed");
        }
        else if (error.code === "SERVICE_UNAVAILABLE") {
            (ctx?.log ?? log).warn({ err: error.cause ?? error, path }, "database unavailable");
        }
    };
    const officialAdapter = trpcExpress.createExpressMiddleware({
        router: appRouter,
        maxBodySize: MAX_BODY_BYTES,
        maxBatchSize: MAX_BATCH_SIZE,
        createContext: ({ req, res, info }) => createContext(req, res, info.connectionParams),
        onError: onProcedureError,
    });
    app.use("/trpc", options.trpcAdapter === "official"
        ? officialAdapter
        : fastTrpcHandler({
            router: appRouter,
            maxBodySize: MAX_BODY_BYTES,
            maxBatchSize: MAX_BATCH_SIZE,
            createContext: (req, res) => createContext(req, res, null),
            onError: ({ error, path, ctx }) => {
                onProcedureError({ error, path, ...(ctx ? { ctx } : {}) });
            },
            fallback: officialAdapter,
        }));
    app.use((_req, res) => {
        res.status(404).json({ error: { code: "NOT_FOUND", message: "No such route" } });
    });
    const onError = (err, req, res, _next) => {
        const status = typeof err === "object" && err !== null && "status" in err && typeof err.status === "number"
            ? err.status
            : 500;
        if (status >= 500)
            log.error({ err, requestId: req.requestId }, "unhandled error");
        res.status(status).json({
            error: {
                code: status === 413 ? "PAYLOAD_TOO_LARGE" : status < 500 ? "BAD_REQUEST" : "INTERNAL_SERVER_ERROR",
                message: status < 500 && err instanceof Error ? err.message : "Internal server error",
                requestId: req.requestId,
            },
        });
    };
    app.use(onError);
    return app;
}
//# sourceMappingURL=app.js.map