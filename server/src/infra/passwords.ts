import { randomBytes } from "node:crypto";
import bcrypt from "bcryptjs";
import { Piscina, queueOptionsSymbol, type TaskQueue } from "piscina";
import { OverloadedError } from "../shared/errors.js";

/** bcrypt reads only the first 72 bytes of a password; anything past them would be ignored. */
export const BCRYPT_MAX_BYTES = 72;

const tooLong = (password: string) => Buffer.byteLength(password, "utf8") > BCRYPT_MAX_BYTES;

/**
 * Who a bcrypt task is for. `signIn`: comparing a password at `auth.login`. `account`: every
 * other use (registering, resetting or changing a password, the first admin). Each lane has
 * its own cap on waiting tasks, and a worker that frees up takes a waiting sign-in first: no
 * flood of registrations or resets can fill the queue sign-ins wait in, or get ahead of them.
 */
export type HashingLane = "signIn" | "account";

type QueuedTask = Parameters<TaskQueue["push"]>[0];
type HashTask =
  { op: "hash"; password: string; cost: number } | { op: "compare"; password: string; hash: string };

function laneOf(task: QueuedTask): HashingLane {
  const options: unknown = task[queueOptionsSymbol];
  return typeof options === "object" && options !== null && "lane" in options && options.lane === "signIn"
    ? "signIn"
    : "account";
}

/** piscina's queue of waiting tasks, as two FIFO lanes; `shift` serves sign-ins first. */
class LaneQueue implements TaskQueue {
  private readonly lanes: Record<HashingLane, QueuedTask[]> = { signIn: [], account: [] };

  get size(): number {
    return this.lanes.signIn.length + this.lanes.account.length;
  }

  waiting(lane: HashingLane): number {
    return this.lanes[lane].length;
  }

  push(task: QueuedTask): void {
    this.lanes[laneOf(task)].push(task);
  }

  unshift(task: QueuedTask): void {
    this.lanes[laneOf(task)].unshift(task);
  }

  shift(): QueuedTask | null {
    return this.lanes.signIn.shift() ?? this.lanes.account.shift() ?? null;
  }

  remove(task: QueuedTask): void {
    const lane = this.lanes[laneOf(task)];
    const index = lane.indexOf(task);
    if (index >= 0) lane.splice(index, 1);
  }
}

/** Work done so far, for tests and diagnostics. */
export interface HashingStats {
  hashes: number;
  compares: number;
  /** Tasks refused because their lane was full. */
  refused: number;
}

/** bcrypt hashing in a pool of worker threads, so a login never stalls other requests. */
export class PasswordHasher {
  private readonly pool: Piscina;
  private readonly queue = new LaneQueue();
  private readonly counts: HashingStats = { hashes: 0, compares: 0, refused: 0 };
  /**
   * What a sign-in with an unknown email is compared against: a well-formed bcrypt hash at
   * the configured cost, with a fresh random salt and a random digest that no password
   * produces. Comparing against it costs exactly what comparing against a real hash of that
   * cost does, and it is made here without any bcrypt work: nothing to wait for or to fail,
   * so an unknown email costs one comparison like a known one from the first call on.
   */
  private readonly dummyHash: string;

  constructor(
    private readonly cost: number,
    workers: number,
    /**
     * Tasks allowed to wait, per lane; a burst beyond it is refused instead of queuing for
     * minutes.
     */
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
    this.dummyHash = `${bcrypt.genSaltSync(cost)}${bcrypt.encodeBase64(randomBytes(23), 23)}`;
    this.pool = new Piscina({
      filename: new URL("./password-worker.mjs", import.meta.url).href,
      minThreads: 1,
      maxThreads: workers,
      idleTimeout: 60_000,
      niceIncrement,
      taskQueue: this.queue,
    });
  }

  private async run(task: HashTask, lane: HashingLane): Promise<unknown> {
    if (this.queue.waiting(lane) >= this.maxQueue) {
      this.counts.refused += 1;
      throw new OverloadedError(
        lane === "signIn"
          ? "Too many sign-ins are being processed; retry shortly"
          : "Too many password changes are being processed; retry shortly",
      );
    }
    // The lane travels as piscina's queue options: a symbol key, never sent to the worker.
    const result: unknown = await this.pool.run({ ...task, [queueOptionsSymbol]: { lane } });
    if (task.op === "hash") this.counts.hashes += 1;
    else this.counts.compares += 1;
    return result;
  }

  async hash(password: string, lane: HashingLane): Promise<string> {
    // Input schemas refuse such passwords; this guards any caller that forgets.
    if (tooLong(password)) throw new RangeError(`Passwords over ${BCRYPT_MAX_BYTES} bytes cannot be hashed`);
    return (await this.run({ op: "hash", password, cost: this.cost }, lane)) as string;
  }

  /**
   * The one place a password is compared with a hash. A password over 72 bytes never
   * matches (bcrypt would compare only its first 72 bytes, so the rest would not count),
   * yet it costs the same bcrypt work as any other, so its length shows in neither the
   * answer nor the time taken.
   */
  async verify(password: string, hash: string, lane: HashingLane): Promise<boolean> {
    const matches = (await this.run({ op: "compare", password, hash }, lane)) as boolean;
    return matches && !tooLong(password);
  }

  /**
   * Spends the same work as a real sign-in comparison when there is no user to compare
   * against, so neither the answer nor the time taken reveals whether an email is registered.
   */
  async verifyAgainstDummy(password: string): Promise<false> {
    await this.verify(password, this.dummyHash, "signIn");
    return false;
  }

  stats(): HashingStats {
    return { ...this.counts };
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
