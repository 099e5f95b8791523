import { randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import nodemailer from "nodemailer";
/** Sends through an SMTP server (SMTP_URL). */
export class SmtpMailer {
    from;
    transport;
    constructor(url, from) {
        this.from = from;
        this.transport = nodemailer.createTransport(url);
    }
    async send(message) {
        await this.transport.sendMail({ from: this.from, ...message });
    }
}
/**
 * Development transport: each message becomes a JSON file in a folder (`.data/outbox/`),
 * so reset links can be read without an SMTP server and never pass through the logs.
 */
export class OutboxMailer {
    dir;
    constructor(dir) {
        this.dir = dir;
    }
    async send(message) {
        await mkdir(this.dir, { recursive: true });
        const file = path.join(this.dir, `${new Date().toISOString().replace(/[:.]/g, "-")}-${randomUUID()}.json`);
        await writeFile(file, JSON.stringify(message, null, 2), { mode: 0o600 });
    }
}
/** Keeps messages in memory; what tests read to follow a reset link. */
export class MemoryMailer {
    sent = [];
    send(message) {
        this.sent.push(message);
        return Promise.resolve();
    }
}
//# sourceMappingURL=mailer.js.map