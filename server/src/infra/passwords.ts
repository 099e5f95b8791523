import { randomBytes } from "node:crypto";
import { Piscina } from "piscina";
import { OverloadedError } from "../shared/errors.js";

/** bcrypt reads only the first 72 bytes of a password; anything past them would be ignored. */
export const BCRYPT_MAX_BYTES = 72;

const tooLong = (password: string) => Buffer.byteLength(password, "utf8") > BCRYPT_MAX_BYTES;

/** bcrypt hashing in a pool of worker threads, so a login never stalls other requests. */
export class PasswordHasher {
  private readonly pool: Piscina;
  private dummyHash: Promise<string> | null = null;

  constructor(
    private readonly cost: number,
    workers: number,
    /** Tasks allowed to wait; a burst beyond it is refused instead of queuing for minutes. */
    private readonly maxQueue = 64,
    /**
     * The hashing threads' nice increment. A hash costs as much CPU as a thousand ordinary
     * calls; with the threads below the event loop's priority, the CPU they compete for goes
     * to answering requests first, and hashing gets the rest (all of it when the server is
     * otherwise idle). Under full load sign-ins then wait longer, within `maxQueue`.
     * Applied by piscina through @napi-rs/nice (Linux, macOS, Windows); 0 leaves it.
     */
    niceIncrement = 0,
  ) {
    this.pool = new Piscina({
      filename: new URL("./password-worker.mjs", import.meta.url).href,
      minThreads: 1,
      maxThreads: workers,
      idleTimeout: 60_000,
      niceIncrement,
    });
  }

  private async run(task: Record<string, unknown>): Promise<unknown> {
    if (this.pool.queueSize >= this.maxQueue) {
      throw new OverloadedError("Too many sign-ins are being processed; retry shortly");
    }
    return this.pool.run(task);
  }

  async hash(password: string): Promise<string> {
    // Input schemas refuse such passwords; this guards any caller that forgets.
    if (tooLong(password)) throw new RangeError(`Passwords over ${BCRYPT_MAX_BYTES} bytes cannot be hashed`);
    return (await this.run({ op: "hash", password, cost: this.cost })) as string;
  }

  /**
   * The one place a password is compared with a hash. A password over 72 bytes never
   * matches (bcrypt would compare only its first 72 bytes, so the rest would not count),
   * yet it costs the same bcrypt work as any other, so its length shows in neither the
   * answer nor the time taken.
   */
  async verify(password: string, hash: string): Promise<boolean> {
    const matches = (await this.run({ op: "compare", password, hash })) as boolean;
    return matches && !tooLong(password);
  }

  /**
   * Spends the same time as a real comparison when there is no user to compare against,
   * so response time does not reveal whether an email is registered.
   */
  async verifyAgainstDummy(password: string): Promise<false> {
    this.dummyHash ??= this.hash(randomBytes(16).toString("hex"));
    await this.verify(password, await this.dummyHash);
    return false;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
