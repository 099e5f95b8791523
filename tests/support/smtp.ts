import { simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

export interface ReceivedMail {
  to: string[];
  subject: string;
  text: string;
  /** When it was accepted (ms since the epoch). */
  at: number;
}

export interface TestSmtpServer {
  /** `smtp://127.0.0.1:<port>`, for SMTP_URL. */
  readonly url: string;
  readonly received: ReceivedMail[];
  /** Delivery attempts seen (refused ones included). */
  readonly attempts: () => number;
  /** Messages whose data arrived and that have not been answered yet. */
  readonly unanswered: () => number;
  /**
   * From now on, never answer a message's data: the sender waits (until its own timeout or
   * death), and the message is not received. What was answered before stays received.
   */
  hold(): void;
  close(): Promise<void>;
}

/**
 * A real SMTP server on loopback (the `smtp-server` package). It refuses the first
 * `refuseFirst` deliveries with a temporary error (451), or every one with `refuseAll`; with
 * `delayMs`, it answers each message's data that much later (a slow mail provider). A message
 * counts as received when it is accepted.
 */
export async function startSmtpServer(
  options: { refuseFirst?: number; refuseAll?: boolean; delayMs?: number } = {},
): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  let attempts = 0;
  let unanswered = 0;
  let holding = false;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["AUTH", "STARTTLS"],
    logger: false,
    onRcptTo(_address, _session, callback) {
      attempts += 1;
      if (options.refuseAll === true || attempts <= (options.refuseFirst ?? 0)) {
        const refusal = Object.assign(new Error("Mailbox busy, try again later"), { responseCode: 451 });
        callback(refusal);
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      unanswered += 1;
      simpleParser(stream)
        .then(async (mail) => {
          if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
          if (holding) return; // never answered
          unanswered -= 1;
          received.push({
            to: session.envelope.rcptTo.map((r) => r.address),
            subject: mail.subject ?? "",
            text: mail.text ?? "",
            at: Date.now(),
          });
          callback();
        })
        .catch((err: unknown) => {
          callback(err instanceof Error ? err : new Error(String(err)));
        });
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.server.address();
      resolve(typeof address === "object" && address ? address.port : 0);
    });
  });
  return {
    url: `smtp://127.0.0.1:${String(port)}`,
    received,
    attempts: () => attempts,
    unanswered: () => unanswered,
    hold() {
      holding = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}
