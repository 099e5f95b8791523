import { createHash, timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import type { Config } from "../config.js";
import type { Metrics } from "../infra/metrics.js";
import { sendErrorBody } from "./error-body.js";

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/**
 * GET /metrics in Prometheus' text format. With METRICS_TOKEN set, a scrape must send it as
 * `Authorization: Bearer <token>`; in production the endpoint is off unless a token is set.
 */
export function metricsHandler(config: Config, metrics: Metrics): RequestHandler {
  const expected = config.metrics.token === null ? null : digest(config.metrics.token);
  return async (req, res) => {
    if (!config.metrics.enabled) {
      sendErrorBody(res, "NOT_FOUND", 404, "No such route", req.requestId);
      return;
    }
    if (expected) {
      const match = /^Bearer\s+(\S+)$/i.exec(req.get("authorization") ?? "");
      // Compare digests: equal lengths, and no timing hint about the token.
      if (!match?.[1] || !timingSafeEqual(digest(match[1]), expected)) {
        res.setHeader("WWW-Authenticate", 'Bearer realm="metrics"');
        sendErrorBody(res, "UNAUTHORIZED", 401, "A valid metrics token is required", req.requestId);
        return;
      }
    }
    res.setHeader("Content-Type", metrics.registry.contentType);
    res.setHeader("Cache-Control", "no-store");
    res.send(await metrics.registry.metrics());
  };
}
