// Runs in a worker thread (piscina): bcrypt is CPU-bound for ~100 ms+ at cost 12, and
// running it here keeps the event loop free for every other request.
import bcrypt from "bcryptjs";

/** @param {{ op: "hash", password: string, cost: number } | { op: "compare", password: string, hash: string }} task */
export default function run(task) {
  if (task.op === "hash") return bcrypt.hashSync(task.password, task.cost);
  return bcrypt.compareSync(task.password, task.hash);
}
