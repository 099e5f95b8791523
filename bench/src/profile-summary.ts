/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`) by package and function: where the
 * busy time goes, self and inclusive. Inclusive time counts a sample once per group however
 * deep or recursive the stack, so the groups' percentages can be read side by side.
 *
 *   pnpm --filter @agora/bench profile-summary /tmp/prof/CPU.*.cpuprofile [--top 30] [--group 'name=regex' ...]
 *
 * A group's regex is matched against "functionName url" of every frame on the stack.
 */
import { readFile } from "node:fs/promises";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** The groups the performance work of issue 9 asks about; add more with --group. */
const DEFAULT_GROUPS: [string, RegExp][] = [
  ["GC (garbage collector)", /^\(garbage collector\) /],
  ["tRPC (all of @trpc/server)", /node_modules\/@trpc\/server\//],
  [
    "tRPC node adapter: IncomingMessage -> Fetch Request, Response -> res",
    /node_modules\/@trpc\/server\/dist\/.*(node-http|incomingMessageToRequest|writeResponse)|^(incomingMessageToRequest|createURL|createBody|writeResponse|writeResponseBody) /,
  ],
  ["tRPC resolveResponse (batching, procedure call, serialisation)", /^resolveResponse /],
  [
    "AbortController / AbortSignal",
    /^(createAbortSignal|AbortSignal|abortSignal|any|makeTransferable) .*node:internal\/abort_controller|abort_controller/,
  ],
  ["express + router", /node_modules\/(express|router)\//],
  ["helmet", /node_modules\/helmet\//],
  ["cors", /node_modules\/cors\//],
  ["compression", /node_modules\/compression\//],
  ["pino-http + pino", /node_modules\/(pino-http|pino|sonic-boom|pino-std-serializers)\//],
  ["response-time", /node_modules\/response-time\//],
  ["zod", /node_modules\/zod\//],
  ["superjson", /node_modules\/(superjson|copy-anything|is-what)\//],
  [
    "Prisma client runtime (all)",
    /node_modules\/@prisma\/client\/runtime\/|server\/(dist|src)\/generated\/prisma\//,
  ],
  ["Prisma query compiler (Wasm)", /query_compiler|wasm:\/\//],
  ["@prisma/adapter-pg", /node_modules\/@prisma\/adapter-pg\//],
  ["pg (driver, protocol, pool)", /node_modules\/(pg|pg-protocol|pg-pool|pg-types|pg-connection-string)\//],
  ["jose (JWT)", /node_modules\/jose\//],
  ["node:http", /node:_http_|node:http/],
  ["node:net / streams", /node:net|node:internal\/streams|node:stream/],
  ["agora (server/dist or server/src, excluding generated)", /server\/(dist|src)\/(?!generated)/],
];

/** The package a frame belongs to: an npm package, a part of Node, Agora, or a V8 pseudo-frame. */
function packageOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "/node_modules/".length).split("/");
    return rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1] ?? ""}` : (rest[0] ?? url);
  }
  if (url.startsWith("node:")) {
    const parts = url.slice(5).split("/");
    return parts[0] === "internal" ? `node:internal/${parts[1] ?? ""}` : `node:${parts[0] ?? ""}`;
  }
  if (url.startsWith("wasm://")) return "(wasm)";
  if (/\/server\/(dist|src)\/generated\//.test(url)) return "agora: generated Prisma client";
  if (/\/server\/(dist|src)\//.test(url)) return "agora";
  if (/\/bench\//.test(url)) return "bench";
  return url.replace(/^file:\/\//, "");
}

/**
 * Where a sample's time is charged in the "attributed" view: the innermost frame that is ours
 * or an npm package's. Node's internals and native code are transparent (charged to whoever
 * called them), so `res.end` -> writev counts against the middleware that ended the response.
 * tRPC and Agora are split by file, since their files are the units worth changing.
 */
function bucketOf(frame: CallFrame): string | null {
  const { url, functionName } = frame;
  if (url === "") return functionName.startsWith("(") && functionName !== "(root)" ? functionName : null;
  if (url.startsWith("node:") || url.startsWith("wasm://")) return null;
  const pkg = packageOf(frame);
  if (pkg === "@trpc/server") {
    const file = url
      .slice(url.lastIndexOf("/") + 1)
      .replace(/-[A-Za-z0-9_-]{8}\.mjs$/, "")
      .replace(/\.m?js$/, "");
    return `@trpc/server: ${file}`;
  }
  if (pkg === "agora" || pkg === "agora: generated Prisma client") {
    const m = /\/server\/(?:dist|src)\/(.*)$/.exec(url);
    return pkg === "agora" ? `agora: ${m?.[1] ?? url}` : pkg;
  }
  return pkg;
}

const shortUrl = (url: string) => {
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) return url.slice(nm + "/node_modules/".length);
  return url.replace(/^file:\/\/.*?\/(server|bench)\//, "$1/");
};

interface Summary {
  totalMs: number;
  busyMs: number;
  topSelf: { name: string; pkg: string; ms: number }[];
  selfByPackage: { pkg: string; ms: number }[];
  inclusiveByPackage: { pkg: string; ms: number }[];
  attributed: { pkg: string; ms: number }[];
  groups: { name: string; ms: number }[];
}

function summarise(profile: CpuProfile, groups: [string, RegExp][], top: number): Summary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  // Time per sampled node. V8's delta i is the time between sample i-1 and sample i.
  const timeOf = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    timeOf.set(id, (timeOf.get(id) ?? 0) + delta / 1000);
  });

  const stackOf = (id: number): ProfileNode[] => {
    const stack: ProfileNode[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur);
      if (node) stack.push(node);
    }
    return stack;
  };

  let totalMs = 0;
  let idleMs = 0;
  const selfFn = new Map<string, { name: string; pkg: string; ms: number }>();
  const selfPkg = new Map<string, number>();
  const inclPkg = new Map<string, number>();
  const groupMs = new Map<string, number>(groups.map(([name]) => [name, 0]));
  const attributed = new Map<string, number>();

  for (const [id, ms] of timeOf) {
    const node = byId.get(id);
    if (!node) continue;
    totalMs += ms;
    const fn = node.callFrame.functionName;
    if (fn === "(idle)" || fn === "(program)") {
      idleMs += fn === "(idle)" ? ms : 0;
      if (fn === "(idle)") continue;
    }
    const pkg = packageOf(node.callFrame);
    const key = `${fn || "(anonymous)"} ${shortUrl(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
    const entry = selfFn.get(key) ?? { name: key, pkg, ms: 0 };
    entry.ms += ms;
    selfFn.set(key, entry);
    selfPkg.set(pkg, (selfPkg.get(pkg) ?? 0) + ms);

    const stack = stackOf(id);
    let bucket = "node internals with no package caller (HTTP parsing, sockets, timers)";
    const leaf = stack[0]?.callFrame;
    // A native leaf (writev, JSON.parse...) is a cost of its own, whoever called it.
    if (leaf && leaf.url === "" && !leaf.functionName.startsWith("("))
      bucket = `native: ${leaf.functionName}`;
    else
      for (const n of stack) {
        const b = bucketOf(n.callFrame);
        if (b !== null) {
          bucket = b;
          break;
        }
      }
    attributed.set(bucket, (attributed.get(bucket) ?? 0) + ms);
    const pkgs = new Set(stack.map((n) => packageOf(n.callFrame)));
    for (const p of pkgs) inclPkg.set(p, (inclPkg.get(p) ?? 0) + ms);
    for (const [name, re] of groups) {
      if (stack.some((n) => re.test(`${n.callFrame.functionName} ${n.callFrame.url}`))) {
        groupMs.set(name, (groupMs.get(name) ?? 0) + ms);
      }
    }
  }

  const sortDesc = <T extends { ms: number }>(xs: T[]) => xs.sort((a, b) => b.ms - a.ms);
  return {
    totalMs,
    busyMs: totalMs - idleMs,
    topSelf: sortDesc([...selfFn.values()]).slice(0, top),
    selfByPackage: sortDesc([...selfPkg].map(([pkg, ms]) => ({ pkg, ms }))).slice(0, top),
    inclusiveByPackage: sortDesc(
      [...inclPkg].filter(([pkg]) => pkg !== "(root)").map(([pkg, ms]) => ({ pkg, ms })),
    ).slice(0, top),
    attributed: sortDesc([...attributed].map(([pkg, ms]) => ({ pkg, ms }))).slice(0, top),
    groups: [...groupMs].map(([name, ms]) => ({ name, ms })),
  };
}

function render(file: string, s: Summary): string {
  const pct = (ms: number) => `${((100 * ms) / s.busyMs).toFixed(1).padStart(5)}%`;
  const lines = [
    file,
    `  profiled ${(s.totalMs / 1000).toFixed(1)} s, busy (not idle) ${(s.busyMs / 1000).toFixed(1)} s; percentages are of busy time`,
    "",
    "  top functions by self time:",
    ...s.topSelf.map((f) => `  ${pct(f.ms)}  ${f.name}  [${f.pkg}]`),
    "",
    "  self time by package:",
    ...s.selfByPackage.map((p) => `  ${pct(p.ms)}  ${p.pkg}`),
    "",
    "  inclusive time by package (a sample counts once if any frame of the package is on its stack):",
    ...s.inclusiveByPackage.map((p) => `  ${pct(p.ms)}  ${p.pkg}`),
    "",
    "  attributed time (innermost package or Agora/tRPC file on the stack; Node internals charged to their caller):",
    ...s.attributed.map((p) => `  ${pct(p.ms)}  ${p.pkg}`),
    "",
    "  inclusive time by group (express middleware nest: each one's time includes the ones after it):",
    ...s.groups.map((g) => `  ${pct(g.ms)}  ${g.name}`),
  ];
  return lines.join("\n");
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const files: string[] = [];
  const groups = [...DEFAULT_GROUPS];
  let top = 25;
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] ?? "";
    if (arg === "--top") top = Number(args[(i += 1)]);
    else if (arg === "--group") {
      const spec = args[(i += 1)] ?? "";
      const eq = spec.indexOf("=");
      if (eq <= 0) throw new Error(`--group wants name=regex, got "${spec}"`);
      groups.push([spec.slice(0, eq), new RegExp(spec.slice(eq + 1))]);
    } else files.push(arg);
  }
  if (files.length === 0) {
    process.stderr.write("usage: profile-summary <file.cpuprofile>... [--top N] [--group 'name=regex']\n");
    process.exitCode = 2;
    return;
  }
  for (const file of files) {
    const profile = JSON.parse(await readFile(file, "utf8")) as CpuProfile;
    process.stdout.write(`${render(file, summarise(profile, groups, top))}\n\n`);
  }
}

await main();
