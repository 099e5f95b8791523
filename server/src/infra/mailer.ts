import { randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Transporter } from "nodemailer";

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  send(message: MailMessage): Promise<void>;
}

/**
 * Sends through an SMTP server (SMTP_URL). nodemailer is loaded with the first message, not
 * at start-up: most starts (development, tests) never send one through SMTP.
 */
export class SmtpMailer implements Mailer {
  private transport: Promise<Transporter> | null = null;
  constructor(
    private readonly url: string,
    private readonly from: string,
    /**
     * Connecting, the greeting and each wait for an answer give up after this: a send must end
     * well within its job's timeout, or the job would be retried while it still runs.
     */
    private readonly stepTimeoutMs = 10_000,
  ) {}
  async send(message: MailMessage): Promise<void> {
    this.transport ??= import("nodemailer").then(({ default: nodemailer }) =>
      nodemailer.createTransport({
        url: this.url,
        connectionTimeout: this.stepTimeoutMs,
        greetingTimeout: this.stepTimeoutMs,
        socketTimeout: this.stepTimeoutMs,
      }),
    );
    await (await this.transport).sendMail({ from: this.from, ...message });
  }
}

/**
 * Development transport: each message becomes a JSON file in a folder (`.data/outbox/`),
 * so reset links can be read without an SMTP server and never pass through the logs.
 */
export class OutboxMailer implements Mailer {
  constructor(private readonly dir: string) {}
  async send(message: MailMessage): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const file = path.join(
      this.dir,
      `${new Date().toISOString().replace(/[:.]/g, "-")}-${randomUUID()}.json`,
    );
    await writeFile(file, JSON.stringify(message, null, 2), { mode: 0o600 });
  }
}

/** Keeps messages in memory; what tests read to follow a reset link. */
export class MemoryMailer implements Mailer {
  readonly sent: MailMessage[] = [];
  send(message: MailMessage): Promise<void> {
    this.sent.push(message);
    return Promise.resolve();
  }
}
