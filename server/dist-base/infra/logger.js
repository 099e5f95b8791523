import { pino } from "pino";
/**
 * Structured JSON logs. Anything that can carry a credential is redacted by path, so a
 * careless `log.info({ req })` still cannot leak a token, a key or a password.
 */
export function createLogger(level, destination) {
    const options = {
        level,
        base: { service: "agora" },
        redact: {
            paths: [
                "req.headers.authorization",
                "req.headers.cookie",
                'req.headers["x-api-key"]',
                'res.headers["set-cookie"]',
                "*.password",
                "*.currentPassword",
                "*.newPassword",
                "*.refreshToken",
                "*.accessToken",
                "*.token",
                "*.key",
            ],
            censor: "[redacted]",
        },
    };
    return destination ? pino(options, destination) : pino(options);
}
//# sourceMappingURL=logger.js.map