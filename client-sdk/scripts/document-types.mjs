// Writes the router's documentation into its emitted declarations, as JSDoc, so an editor's
// hover on `client.markets.create`, on an input field or on an output field shows what the
// panel, the OpenAPI document and docs/api.md show. The texts come from the live router
// (server/src/cli/sdk-docs.ts: the procedures' meta and the JSON Schema of their zod schemas,
// `.describe()` texts included); tsc's declaration emit drops them, as it only keeps types.
//
// The declaration of `appRouter` spells every procedure out as a type literal:
//   TRPCBuiltRouter<Def, TRPCDecorateCreateRouterOptions<{ markets: TRPCBuiltRouter<...>, ... }>>
// and each procedure as TRPC{Query,Mutation,Subscription}Procedure<{ input: {...}; output: {...} }>.
// This walks that shape and the JSON Schema side by side and puts a JSDoc comment before each
// procedure and each property the schema describes. What it cannot pair (a type the schema does
// not spell as an object, e.g. a Record) is left as it is; `documentRouterTypes` returns counts
// so the build can check that nothing was missed wholesale.

/**
 * @param {typeof import("typescript")} ts
 * @param {string} text the emitted router.d.ts
 * @param {{ procedures: Array<{ path: string, summary: string | null, description: string | null,
 *   access: string, accessText: string, rest: { method: string, path: string } | null,
 *   input: object | null, output: object | null }> }} docs
 * @returns {{ text: string, procedures: number, fields: number, bare: string[], undocumented: string[] }}
 */
export function documentRouterTypes(ts, text, docs) {
  const source = ts.createSourceFile("router.d.ts", text, ts.ScriptTarget.Latest, true);
  const byPath = new Map(docs.procedures.map((p) => [p.path, p]));
  /** @type {Array<{ pos: number, comment: string }>} */
  const edits = [];
  const seen = new Set();
  let fields = 0;
  /** Fields of an input or output left without a comment: no description in the schema. */
  const bare = [];

  const indentAt = (pos) => {
    const lineStart = text.lastIndexOf("\n", pos - 1) + 1;
    return /^[ \t]*/.exec(text.slice(lineStart))[0];
  };
  const addComment = (node, lines) => {
    const pos = node.getStart(source);
    const indent = indentAt(pos);
    const body = lines.map((line) => (line === "" ? `${indent} *` : `${indent} * ${escape(line)}`));
    edits.push({ pos, comment: `/**\n${body.join("\n")}\n${indent} */\n${indent}` });
  };

  /** The rightmost name of `X<...>` or `import("m").X<...>`. */
  const nameOf = (node) => {
    if (ts.isTypeReferenceNode(node)) {
      return ts.isIdentifier(node.typeName) ? node.typeName.text : node.typeName.right.text;
    }
    if (ts.isImportTypeNode(node) && node.qualifier) {
      return ts.isIdentifier(node.qualifier) ? node.qualifier.text : node.qualifier.right.text;
    }
    return null;
  };
  const typeArgs = (node) => node.typeArguments ?? [];

  /** A router's record: the type literal of its procedures and sub-routers. */
  const routerRecord = (node) => {
    const name = nameOf(node);
    if (name === "TRPCBuiltRouter") return routerRecord(typeArgs(node)[1]);
    if (name === "TRPCDecorateCreateRouterOptions") return routerRecord(typeArgs(node)[0]);
    return node && ts.isTypeLiteralNode(node) ? node : null;
  };

  const visitRecord = (record, prefix) => {
    for (const member of record.members) {
      if (!ts.isPropertySignature(member) || !member.type) continue;
      const key = propertyName(ts, member.name);
      const path = `${prefix}${key}`;
      const kind = nameOf(member.type);
      if (kind && /^TRPC(Query|Mutation|Subscription)Procedure$/.test(kind)) {
        const doc = byPath.get(path);
        if (!doc) continue;
        seen.add(path);
        addComment(member, procedureLines(doc));
        const def = typeArgs(member.type)[0];
        if (!def || !ts.isTypeLiteralNode(def)) continue;
        for (const part of def.members) {
          if (!ts.isPropertySignature(part) || !part.type) continue;
          const which = propertyName(ts, part.name);
          if (which === "input" && doc.input) annotate(part.type, doc.input, doc.input, `${path} input `);
          if (which === "output" && doc.output)
            annotate(part.type, doc.output, doc.output, `${path} output `);
        }
        continue;
      }
      const nested = routerRecord(member.type);
      if (nested) visitRecord(nested, `${path}.`);
    }
  };

  /** Walks a type node and its JSON Schema together, commenting each described property. */
  const annotate = (node, schema, root, where) => {
    if (!node || !schema) return;
    const resolved = resolveRef(schema, root);
    if (ts.isParenthesizedTypeNode(node)) return annotate(node.type, resolved, root, where);
    if (ts.isTypeOperatorNode(node)) return annotate(node.type, resolved, root, where);
    const { schema: inner } = nonNull(resolved, root);
    if (ts.isArrayTypeNode(node)) return annotate(node.elementType, inner.items, root, `${where}[]`);
    if (ts.isUnionTypeNode(node)) {
      const members = node.types.filter((t) => !isNullish(ts, t));
      const branches = (inner.oneOf ?? inner.anyOf ?? []).map((b) => resolveRef(b, root));
      for (const member of members) {
        if (branches.length === 0) annotate(member, inner, root, where);
        else if (members.length === 1 && branches.length === 1) annotate(member, branches[0], root, where);
        else annotate(member, matchBranch(ts, member, branches), root, where);
      }
      return;
    }
    const name = nameOf(node);
    if (name === "Array" || name === "ReadonlyArray")
      return annotate(typeArgs(node)[0], inner.items, root, `${where}[]`);
    // A subscription's output: AsyncIterable<TrackedData<Event>>; the schema is one event's.
    if (name === "AsyncIterable" || name === "TrackedData")
      return annotate(typeArgs(node)[0], inner, root, where);
    if (!ts.isTypeLiteralNode(node)) return;
    for (const member of node.members) {
      if (!ts.isPropertySignature(member)) continue;
      const key = propertyName(ts, member.name);
      const child = inner.properties?.[key];
      const lines = child ? fieldLines(resolveRef(child, root), root) : [];
      if (lines.length > 0) {
        addComment(member, lines);
        fields += 1;
      } else bare.push(`${where}${key}`);
      if (child) annotate(member.type, child, root, `${where}${key}.`);
    }
  };

  const statement = source.statements.find(
    (s) =>
      ts.isVariableStatement(s) &&
      s.declarationList.declarations.some((d) => ts.isIdentifier(d.name) && d.name.text === "appRouter"),
  );
  const declaration = statement?.declarationList.declarations.find((d) => d.name.text === "appRouter");
  const record = declaration?.type ? routerRecord(declaration.type) : null;
  if (!record) throw new Error("router.d.ts: no `appRouter: TRPCBuiltRouter<...>` declaration found");
  visitRecord(record, "");

  let out = text;
  for (const { pos, comment } of edits.sort((a, b) => b.pos - a.pos)) {
    out = out.slice(0, pos) + comment + out.slice(pos);
  }
  const undocumented = docs.procedures.map((p) => p.path).filter((p) => !seen.has(p));
  return { text: out, procedures: seen.size, fields, bare, undocumented };
}

function procedureLines(doc) {
  const lines = [doc.summary ?? doc.path];
  if (doc.description) lines.push("", ...doc.description.split("\n"));
  lines.push("", `Who may call: \`${doc.access}\` (${doc.accessText}).`);
  if (doc.rest) lines.push(`REST: \`${doc.rest.method} ${doc.rest.path}\`.`);
  return lines;
}

function fieldLines(schema, root) {
  const { schema: inner } = nonNull(schema, root);
  const description = schema.description ?? inner.description;
  const lines = [];
  if (description && !schema.deprecated) lines.push(...description.split("\n"));
  if (schema.default !== undefined) lines.push(`@default ${JSON.stringify(schema.default)}`);
  if (schema.deprecated)
    lines.push(`@deprecated ${(description ?? "").replace(/^Deprecated:\s*/i, "")}`.trim());
  return lines;
}

/** `X | null` in JSON Schema: `anyOf: [X, {type: "null"}]` or `type: ["x", "null"]`. */
function nonNull(schema, root) {
  if (Array.isArray(schema.type)) {
    const types = schema.type.filter((t) => t !== "null");
    if (types.length === 1) return { schema: { ...schema, type: types[0] }, nullable: true };
  }
  const branches = schema.anyOf;
  if (!branches) return { schema, nullable: false };
  const rest = branches.map((b) => resolveRef(b, root)).filter((b) => b.type !== "null");
  return rest.length === 1 ? { schema: rest[0], nullable: true } : { schema, nullable: false };
}

function resolveRef(schema, root) {
  if (!schema || typeof schema.$ref !== "string") return schema;
  const match = /^#\/(\$defs|definitions)\/(.+)$/.exec(schema.$ref);
  const target = match ? root[match[1]]?.[decodeURIComponent(match[2])] : undefined;
  return target ? { ...target, ...schema, $ref: undefined } : schema;
}

/** The branch of a union schema whose `const` properties agree with the type literal's literals. */
function matchBranch(ts, member, branches) {
  if (!ts.isTypeLiteralNode(member)) return undefined;
  const literals = new Map();
  for (const m of member.members) {
    if (
      ts.isPropertySignature(m) &&
      m.type &&
      ts.isLiteralTypeNode(m.type) &&
      ts.isStringLiteral(m.type.literal)
    )
      literals.set(propertyName(ts, m.name), m.type.literal.text);
  }
  return branches.find(
    (b) => literals.size > 0 && [...literals].every(([key, value]) => b.properties?.[key]?.const === value),
  );
}

function isNullish(ts, node) {
  return (
    node.kind === ts.SyntaxKind.UndefinedKeyword ||
    (ts.isLiteralTypeNode(node) && node.literal.kind === ts.SyntaxKind.NullKeyword)
  );
}

function propertyName(ts, name) {
  return ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name) ? name.text : "";
}

/** A comment's text must not close the comment. */
function escape(line) {
  return line.replace(/\*\//g, "*\\/");
}
