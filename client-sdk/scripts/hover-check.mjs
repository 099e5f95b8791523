// What an editor shows on hover, checked with the TypeScript language service a consumer has
// installed: a file written as a user would (calls through `createAgoraClient`), compiled
// against the installed package, and the quick info at a procedure, at input fields, at output
// fields and at an event's fields must carry the router's own texts (server/src/cli/sdk-docs.ts:
// the same the panel and the OpenAPI document show). Used by consumer-test.mjs.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const CONSUMER_FILE = `import { createAgoraClient } from "@agora/client";

const client = createAgoraClient({ url: "http://localhost:3000" });
const market = await client.markets.create.mutate({ name: "Fish", status: "ACTIVE" });
console.log(market.volumeCents);
await client.orders.create.mutate({ marketId: market.id, items: [{ productId: "p", quantity: 1 }] });
client.markets.onEvent.subscribe(
  { marketId: market.id },
  {
    onData({ data }) {
      if (data.type === "order.placed") console.log(data.marketVolumeCents, data.volumeCents);
    },
  },
);
`;

/**
 * The hovers checked: where in CONSUMER_FILE (the n-th occurrence of `at`, hovering the start
 * of `hover` in it, by default its first character) and which text of the router it must show.
 */
function expectations(docs) {
  const byPath = new Map(docs.procedures.map((p) => [p.path, p]));
  const get = (p) => {
    const doc = byPath.get(p);
    if (!doc) throw new Error(`the router has no procedure ${p}`);
    return doc;
  };
  const field = (schema, ...keys) => {
    let node = schema;
    for (const key of keys) {
      if (key === "[]") node = node.items;
      else if (key.startsWith("type=")) {
        node = (node.oneOf ?? node.anyOf).find((b) => b.properties?.type?.const === key.slice(5));
      } else node = node.properties[key];
    }
    return node;
  };
  const create = get("markets.create");
  const order = get("orders.create");
  const event = get("markets.onEvent");
  const placed = (...keys) => field(event.output, "type=order.placed", ...keys);
  return [
    { what: "procedure markets.create", at: "create.mutate", n: 0, text: create.summary },
    { what: "markets.create input `name`", at: "name:", n: 0, text: field(create.input, "name").description },
    {
      what: "markets.create input `status` (with its default)",
      at: "status:",
      n: 0,
      text: field(create.input, "status").description,
      tag: ["default", JSON.stringify(field(create.input, "status").default)],
    },
    {
      what: "markets.create output `volumeCents`",
      at: "volumeCents);",
      n: 0,
      text: field(create.output, "volumeCents").description,
    },
    { what: "procedure orders.create", at: "create.mutate", n: 1, text: order.summary },
    {
      what: "orders.create input `items[].quantity` (nested)",
      at: "quantity:",
      n: 0,
      text: field(order.input, "items", "[]", "quantity").description,
    },
    { what: "procedure markets.onEvent", at: "onEvent", n: 0, text: event.summary },
    {
      what: "order.placed event `marketVolumeCents`",
      at: "marketVolumeCents",
      n: 0,
      text: placed("marketVolumeCents").description,
    },
    {
      what: "order.placed event `volumeCents`, deprecated",
      at: "data.volumeCents",
      hover: "volumeCents",
      n: 0,
      tag: ["deprecated", placed("volumeCents").description.replace(/^Deprecated:\s*/, "")],
    },
  ];
}

/**
 * @param {string} app the consumer project, with typescript and the packed SDK installed
 * @param {{ procedures: object[] }} docs what server/src/cli/sdk-docs.ts prints
 * @returns {string[]} one line per hover checked; throws on the first that is wrong
 */
export function checkHovers(app, docs) {
  const ts = createRequire(path.join(app, "package.json"))("typescript");
  const fileName = path.join(app, "hover.ts");
  const files = new Map([[fileName, CONSUMER_FILE]]);
  const options = {
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ["lib.es2022.d.ts"],
    types: ["node"],
    skipLibCheck: true,
    noEmit: true,
  };
  const host = {
    getScriptFileNames: () => [...files.keys()],
    getScriptVersion: () => "1",
    getScriptSnapshot: (name) => {
      const text = files.get(name) ?? (ts.sys.fileExists(name) ? readFileSync(name, "utf8") : undefined);
      return text === undefined ? undefined : ts.ScriptSnapshot.fromString(text);
    },
    getCurrentDirectory: () => app,
    getCompilationSettings: () => options,
    getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
    fileExists: (name) => files.has(name) || ts.sys.fileExists(name),
    readFile: (name) => files.get(name) ?? ts.sys.readFile(name),
    readDirectory: ts.sys.readDirectory,
    directoryExists: ts.sys.directoryExists,
    getDirectories: ts.sys.getDirectories,
    realpath: ts.sys.realpath,
  };
  const service = ts.createLanguageService(host, ts.createDocumentRegistry());

  // The file must compile against the package, or the hovers would prove nothing.
  const errors = [...service.getSemanticDiagnostics(fileName), ...service.getSyntacticDiagnostics(fileName)];
  if (errors.length > 0) {
    const text = errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n")).join("\n");
    throw new Error(`the hover file does not type-check against the package:\n${text}`);
  }
  const declaredIn = service
    .getDefinitionAtPosition(fileName, CONSUMER_FILE.indexOf("createAgoraClient"))
    ?.map((d) => path.relative(app, d.fileName));
  if (!declaredIn?.every((f) => f.startsWith(path.join("node_modules", "@agora", "client", "dist")))) {
    throw new Error(`createAgoraClient should come from the installed package's dist/: ${declaredIn}`);
  }

  const lines = [];
  for (const { what, at, hover = at, n, text, tag } of expectations(docs)) {
    let found = -1;
    for (let i = 0; i <= n; i += 1) found = CONSUMER_FILE.indexOf(at, found + 1);
    if (found < 0) throw new Error(`hover check: "${at}" (#${n}) is not in the file`);
    const position = found + at.indexOf(hover);
    const info = service.getQuickInfoAtPosition(fileName, position);
    const shown = ts.displayPartsToString(info?.documentation ?? []);
    const tags = (info?.tags ?? []).map((t) => [t.name, ts.displayPartsToString(t.text ?? [])]);
    if (text !== undefined && !shown.split("\n").includes(text)) {
      throw new Error(`hover on ${what} should show "${text}"; it shows "${shown}"`);
    }
    if (tag && !tags.some(([name, value]) => name === tag[0] && value === tag[1])) {
      throw new Error(`hover on ${what} should have @${tag[0]} ${tag[1]}; its tags: ${JSON.stringify(tags)}`);
    }
    lines.push(`${what}: "${text ?? `@${tag[0]} ${tag[1]}`}"`);
  }
  // An editor strikes a deprecated field through: the language service's suggestion for it.
  const deprecated = service
    .getSuggestionDiagnostics(fileName)
    .filter((d) => d.reportsDeprecated)
    .map((d) => CONSUMER_FILE.slice(d.start, d.start + d.length));
  if (JSON.stringify(deprecated) !== JSON.stringify(["volumeCents"])) {
    throw new Error(
      `only data.volumeCents should be reported deprecated; reported: ${deprecated.join(", ")}`,
    );
  }
  lines.push("data.volumeCents is reported deprecated (struck through in an editor)");
  return lines;
}
