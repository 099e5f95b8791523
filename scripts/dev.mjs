// `pnpm dev`: the server under `tsx watch`, which restarts it on every save of a file it
// imports, including saves that replace the file (editors' atomic saves, `sed -i`,
// `git checkout`, `git stash`), where `node --watch-path` kept serving the old code.
//
// tsx runs in a process group of its own, and a stop signal reaches it once, from here: Ctrl-C
// in a terminal signals every process of the foreground group and pnpm forwards it again, and
// tsx takes a second signal as "force kill" (SIGKILL), which would cut the server's drain and
// the embedded database's close short. A second Ctrl-C a moment later still stops at once.
/* global process */
import { spawn } from "node:child_process";

const REPEAT_MS = 1000;
const child = spawn("tsx", ["watch", "--clear-screen=false", ...process.argv.slice(2)], {
  stdio: ["ignore", "inherit", "inherit"],
  detached: true,
});
let lastForwarded = 0;
const forward = (signal) => {
  const now = Date.now();
  if (now - lastForwarded < REPEAT_MS) return;
  lastForwarded = now;
  child.kill(signal);
};
process.on("SIGINT", forward);
process.on("SIGTERM", forward);
child.on("exit", (code, signal) => {
  process.exit(code ?? (signal === "SIGINT" ? 130 : 1));
});
child.on("error", (error) => {
  process.stderr.write(`pnpm dev could not start tsx: ${error.message}\n`);
  process.exit(1);
});
