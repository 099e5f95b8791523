import { createHash, timingSafeEqual } from "node:crypto";
function digest(value) {
    return createHash("sha256").update(value).digest();
}
/**
 * GET /metrics in Prometheus' text format. With METRICS_TOKEN set, a scrape must send it as
 * `Authorization: Bearer <token>`; in production the endpoint is off unless a token is set.
 */
export function metricsHandler(config, metrics) {
    const expected = config.metrics.token === null ? null : digest(config.metrics.token);
    return async (req, res) => {
        if (!config.metrics.enabled) {
            res.status(404).json({ error: { code: "NOT_FOUND", message: "No such route" } });
            return;
        }
        if (expected) {
            const match = /^Bearer\s+(\S+)$/i.exec(req.get("authorization") ?? "");
            // Compare digests: equal lengths, and no timing hint about the token.
            if (!match?.[1] || !timingSafeEqual(digest(match[1]), expected)) {
                res.setHeader("WWW-Authenticate", 'Bearer realm="metrics"');
                res
                    .status(401)
                    .json({ error: { code: "UNAUTHORIZED", message: "A valid metrics token is required" } });
                return;
            }
        }
        res.setHeader("Content-Type", metrics.registry.contentType);
        res.setHeader("Cache-Control", "no-store");
        res.send(await metrics.registry.metrics());
    };
}
//# sourceMappingURL=metrics.js.map