// Agora panel: lists the live router's procedures (GET /panel/procedures.json), builds a form
// from each one's input JSON Schema (generated from its zod schema), and calls /trpc with
// superjson, as the SDK does. No framework and nothing from the internet.
import superjson from "superjson";

const TOKEN_KEY = "agora.panel.token";
const API_KEY = "agora.panel.apiKey";
const IDS_KEY = "agora.panel.recentIds";
const MAX_RECENT_IDS = 20;
const $ = (selector) => document.querySelector(selector);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

// ---- token -------------------------------------------------------------------------------

const tokenInput = $("#token");
function currentToken() {
  return tokenInput.value.trim();
}
async function setToken(token) {
  tokenInput.value = token;
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
  await showWhoAmI();
}
async function showWhoAmI() {
  const whoami = $("#whoami");
  if (!currentToken()) {
    whoami.textContent = "not signed in";
    return;
  }
  const { outcome } = await call("users.me", "query", undefined);
  whoami.textContent = outcome.ok
    ? `signed in as ${outcome.value.username} (${outcome.value.role})`
    : `token not accepted: ${outcome.error.message}`;
}
tokenInput.addEventListener("change", () => void setToken(currentToken()));
const apiKeyInput = $("#apikey");
apiKeyInput.addEventListener("change", () => {
  const key = apiKeyInput.value.trim();
  if (key) sessionStorage.setItem(API_KEY, key);
  else sessionStorage.removeItem(API_KEY);
});
$("#signout").addEventListener("click", () => void setToken(""));

// ---- calling procedures ------------------------------------------------------------------

function headers(json) {
  const h = { accept: "application/json" };
  if (json) h["content-type"] = "application/json";
  const token = currentToken();
  if (token) h.authorization = `Bearer ${token}`;
  const apiKey = apiKeyInput.value.trim();
  if (apiKey) h["x-api-key"] = apiKey;
  const name = $("#header-name").value.trim();
  if (name) h[name.toLowerCase()] = $("#header-value").value;
  return h;
}

// ---- ids seen in results, offered back in id fields ------------------------------------

/** The newest ids seen in results: { id, label } (label: what it was, e.g. "markets.create name"). */
let recentIds = JSON.parse(localStorage.getItem(IDS_KEY) ?? "[]");
function rememberIds(path, value) {
  const found = [];
  const walk = (node, depth) => {
    if (depth > 4 || node === null || typeof node !== "object") return;
    if (Array.isArray(node)) {
      for (const item of node.slice(0, 10)) walk(item, depth + 1);
      return;
    }
    if (typeof node.id === "string") {
      const name = node.name ?? node.title ?? node.username ?? node.type ?? "";
      found.push({ id: node.id, label: `${path}${name ? `: ${name}` : ""}` });
    }
    for (const [key, child] of Object.entries(node)) if (key !== "id") walk(child, depth + 1);
  };
  walk(value, 0);
  if (found.length === 0) return;
  const ids = new Set(found.map((f) => f.id));
  recentIds = [...found, ...recentIds.filter((r) => !ids.has(r.id))].slice(0, MAX_RECENT_IDS);
  localStorage.setItem(IDS_KEY, JSON.stringify(recentIds));
  fillRecentIds();
}
function fillRecentIds() {
  $("#recent-ids").replaceChildren(...recentIds.map((r) => el("option", { value: r.id, label: r.label })));
}
document.body.append(el("datalist", { id: "recent-ids" }));
fillRecentIds();
/** A field that takes an id: "id", "marketId", "productId", ... */
const isIdField = (path) => /(^|\.)(id|[a-z]+Id)$/.test(path);
/** A field whose value should not show on screen. */
const isSecretField = (path) => /(password|token|secret|apikey)$/i.test(path.split(".").pop() ?? "");

/** One call through /trpc. Resolves to the HTTP status, the request id and the decoded outcome. */
async function call(path, type, input) {
  const payload = input === undefined ? undefined : JSON.stringify(superjson.serialize(input));
  const started = performance.now();
  const response =
    type === "query"
      ? await fetch(`/trpc/${path}${payload === undefined ? "" : `?input=${encodeURIComponent(payload)}`}`, {
          headers: headers(false),
        })
      : await fetch(`/trpc/${path}`, { method: "POST", headers: headers(true), body: payload ?? "" });
  const ms = performance.now() - started;
  const requestId = response.headers.get("x-request-id");
  let body;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  let outcome;
  if (body && "result" in body) outcome = { ok: true, value: superjson.deserialize(body.result.data) };
  else if (body && "error" in body) outcome = { ok: false, error: superjson.deserialize(body.error) };
  else outcome = { ok: false, error: { message: `HTTP ${response.status} without a tRPC body` } };
  return { status: response.status, ms, requestId, outcome };
}

// ---- forms from JSON Schema --------------------------------------------------------------

const ABSENT = Symbol("absent");

function nonNullBranch(schema) {
  // An output's nullable scalar: { type: ["string", "null"] }.
  if (Array.isArray(schema.type)) {
    const types = schema.type.filter((t) => t !== "null");
    if (types.length === 1)
      return { schema: { ...schema, type: types[0] }, nullable: types.length < schema.type.length };
  }
  const branches = schema.anyOf ?? schema.oneOf;
  if (!branches) return { schema, nullable: false };
  const rest = branches.filter((b) => b.type !== "null");
  return rest.length === 1
    ? { schema: { ...rest[0], ...pickDocs(schema) }, nullable: true }
    : { schema, nullable: false };
}
function pickDocs(schema) {
  const docs = {};
  if (schema.description) docs.description = schema.description;
  if (schema.default !== undefined) docs.default = schema.default;
  return docs;
}

/**
 * A widget: { node, read() } where read() returns the value or ABSENT (nothing entered).
 * `path` names the field ("items.0.productId"), also set as data-path for tests and labels.
 */
function widget(rawSchema, path, required) {
  const { schema, nullable } = nonNullBranch(rawSchema);
  const empty = () => (required && nullable ? null : ABSENT);
  const label = path || "input";

  if (schema.type === "object" && schema.properties) {
    const requiredKeys = new Set(schema.required ?? []);
    const fields = Object.entries(schema.properties).map(([key, child]) => {
      const childPath = path ? `${path}.${key}` : key;
      const w = widget(child, childPath, requiredKeys.has(key) && child.default === undefined);
      const optional = requiredKeys.has(key) ? null : el("span", { class: "optional", text: " optional" });
      const description = child.description ?? nonNullBranch(child).schema.description;
      const row = el(
        "div",
        { class: "field" },
        el("label", { for: `f-${childPath}`, text: key }, optional),
        el(
          "div",
          { class: "control" },
          w.node,
          description
            ? el("small", { class: "description", "data-description": childPath, text: description })
            : null,
        ),
      );
      return { key, w, row };
    });
    const node = path ? el("fieldset", {}, el("legend", { text: path.split(".").pop() })) : el("div");
    for (const f of fields) node.append(f.row);
    return {
      node,
      read() {
        const out = {};
        for (const f of fields) {
          const v = f.w.read();
          if (v !== ABSENT) out[f.key] = v;
        }
        return Object.keys(out).length === 0 && !required ? empty() : out;
      },
    };
  }

  if (schema.type === "array" && schema.items) {
    const items = [];
    let created = 0;
    const list = el("div", { class: "items" });
    const add = () => {
      const index = created++;
      const w = widget(schema.items, `${path}.${index}`, true);
      const entry = { w, node: null };
      const remove = el("button", {
        type: "button",
        text: "Remove item",
        onclick: () => {
          items.splice(items.indexOf(entry), 1);
          entry.node.remove();
        },
      });
      entry.node = el("div", { class: "item", "data-item": `${path}.${index}` }, w.node, remove);
      items.push(entry);
      list.append(entry.node);
    };
    for (let i = 0; i < Math.max(1, schema.minItems ?? 0); i++) add();
    const node = el(
      "div",
      { id: `f-${path}`, "data-path": path },
      list,
      el("button", { type: "button", text: `Add to ${path.split(".").pop()}`, onclick: add }),
    );
    return {
      node,
      read() {
        if (items.length === 0) return required ? [] : empty();
        return items.map((i) => i.w.read()).map((v) => (v === ABSENT ? undefined : v));
      },
    };
  }

  if (schema.enum || schema.const !== undefined) {
    const values = schema.enum ?? [schema.const];
    const select = el(
      "select",
      { id: `f-${path}`, name: path, "data-path": path, "aria-label": label },
      el("option", { value: "", text: schema.default !== undefined ? `(default: ${schema.default})` : "—" }),
      ...values.map((v) => el("option", { value: JSON.stringify(v), text: String(v) })),
    );
    if (schema.const !== undefined) select.value = JSON.stringify(schema.const);
    return { node: select, read: () => (select.value === "" ? empty() : JSON.parse(select.value)) };
  }

  if (schema.type === "boolean") {
    const select = el(
      "select",
      { id: `f-${path}`, name: path, "data-path": path, "aria-label": label },
      el("option", { value: "", text: schema.default !== undefined ? `(default: ${schema.default})` : "—" }),
      el("option", { value: "true", text: "true" }),
      el("option", { value: "false", text: "false" }),
    );
    return { node: select, read: () => (select.value === "" ? empty() : select.value === "true") };
  }

  if (schema.type === "number" || schema.type === "integer") {
    const input = el("input", {
      id: `f-${path}`,
      name: path,
      "data-path": path,
      "aria-label": label,
      type: "number",
      step: schema.type === "integer" ? "1" : "any",
      min: schema.minimum,
      max: schema.maximum,
      placeholder: schema.default !== undefined ? `default ${schema.default}` : "",
    });
    return { node: input, read: () => (input.value === "" ? empty() : Number(input.value)) };
  }

  if (schema.type === "string") {
    const isDate = schema["x-superjson"] === "Date";
    const secret = !isDate && isSecretField(path);
    // A long text gets a textarea; a password or token never does (it would show).
    const long = !secret && (schema.maxLength ?? 0) > 300;
    const attrs = {
      id: `f-${path}`,
      name: path,
      "data-path": path,
      "aria-label": label,
      placeholder: isDate
        ? "2030-01-31T12:00:00Z"
        : schema.default !== undefined
          ? `default ${schema.default}`
          : "",
    };
    const input = long
      ? el("textarea", { ...attrs, rows: 4 })
      : el("input", {
          ...attrs,
          type: secret ? "password" : "text",
          autocomplete: secret ? "off" : undefined,
          list: isIdField(path) ? "recent-ids" : undefined,
        });
    const node = secret
      ? el(
          "span",
          { class: "secret" },
          input,
          el("button", {
            type: "button",
            class: "reveal",
            text: "Show",
            "aria-label": `Show ${label}`,
            onclick: (event) => {
              input.type = input.type === "password" ? "text" : "password";
              event.target.textContent = input.type === "password" ? "Show" : "Hide";
            },
          }),
        )
      : input;
    return {
      node,
      read: () => {
        if (input.value === "") return empty();
        return isDate ? new Date(input.value) : input.value;
      },
    };
  }

  // Anything a form cannot express (unions, records): JSON typed by hand.
  const area = el("textarea", {
    id: `f-${path}`,
    name: path,
    "data-path": path,
    "aria-label": label,
    rows: 3,
    placeholder: "JSON",
  });
  return {
    node: area,
    read: () => {
      if (area.value.trim() === "") return empty();
      try {
        return JSON.parse(area.value);
      } catch {
        throw new Error(`${label}: not valid JSON`);
      }
    },
  };
}

// ---- pages -------------------------------------------------------------------------------

let procedures = [];
let accessText = {};
let openStream = null;

const ACCESS_LABELS = {
  anonymous: "anyone",
  public: "anyone",
  "signed-in": "signed in",
  user: "user",
  admin: "admin",
};
const accessLabel = (access) => ACCESS_LABELS[access] ?? access;

/** A JSON Schema as a readable outline: one line per field, with its type and description. */
function schemaOutline(schema, name = null, required = true, depth = 0) {
  const { schema: inner, nullable } = nonNullBranch(schema);
  const type = (() => {
    if (inner.enum) return inner.enum.map((v) => JSON.stringify(v)).join(" | ");
    if (inner.const !== undefined) return JSON.stringify(inner.const);
    if (inner["x-superjson"] === "Date") return "Date";
    if (inner.type === "array") return "array of";
    if (inner.type) return inner.type;
    if (inner.anyOf || inner.oneOf) return "one of";
    return "any";
  })();
  const line = el(
    "li",
    {},
    name === null ? null : el("code", { text: name }),
    name === null ? null : ": ",
    el("span", {
      class: "type",
      text: `${type}${nullable ? " | null" : ""}${required ? "" : " (optional)"}`,
    }),
    (schema.description ?? inner.description)
      ? el("span", { class: "description", text: ` — ${schema.description ?? inner.description}` })
      : null,
  );
  const children = [];
  if (depth < 6) {
    if (inner.type === "object" && inner.properties) {
      const req = new Set(inner.required ?? []);
      for (const [key, child] of Object.entries(inner.properties))
        children.push(schemaOutline(child, key, req.has(key), depth + 1));
    } else if (inner.type === "array" && inner.items) {
      children.push(schemaOutline(inner.items, null, true, depth + 1));
    } else if (inner.anyOf || inner.oneOf) {
      for (const branch of inner.anyOf ?? inner.oneOf)
        children.push(schemaOutline(branch, null, true, depth + 1));
    }
  }
  if (children.length > 0) line.append(el("ul", {}, ...children));
  return line;
}

function renderList(filter) {
  const list = $("#procedures");
  list.replaceChildren();
  let group = null;
  for (const p of procedures) {
    if (filter && !p.path.toLowerCase().includes(filter.toLowerCase())) continue;
    const [head] = p.path.split(".");
    if (head !== group) {
      group = head;
      list.append(el("li", { class: "group", text: head }));
    }
    list.append(
      el(
        "li",
        {},
        el(
          "button",
          {
            type: "button",
            "data-procedure": p.path,
            "aria-current": location.hash === `#${p.path}` ? "true" : false,
            onclick: () => {
              location.hash = p.path;
            },
          },
          // The group heading above says the router; the full path is the tooltip.
          el("span", { class: "name", text: p.path.slice(head.length + 1), title: p.path }),
          el("span", {
            class: `access ${p.access}`,
            title: accessText[p.access] ?? "",
            text: accessLabel(p.access),
          }),
          el("span", { class: `kind ${p.type}`, text: p.type }),
        ),
      ),
    );
  }
}

function show(path) {
  openStream?.close();
  openStream = null;
  const p = procedures.find((x) => x.path === path);
  const main = $("#main");
  if (!p) return;
  renderList($("#filter").value);
  const form = p.input ? widget(p.input, "", true) : null;
  const result = el("pre", { class: "result", id: "result", "aria-live": "polite" });
  const status = el("div", { class: "status", id: "status" });
  const preview = el("pre", { id: "preview" });
  const updatePreview = () => {
    try {
      const value = form ? form.read() : undefined;
      preview.textContent =
        JSON.stringify(superjson.serialize(value === ABSENT ? undefined : value), null, 2) ?? "";
    } catch (error) {
      preview.textContent = String(error.message);
    }
  };
  const run = el("button", {
    type: "submit",
    class: "run",
    text: p.type === "subscription" ? "Subscribe" : "Run",
  });
  const stop =
    p.type === "subscription"
      ? el("button", {
          type: "button",
          class: "stop",
          text: "Stop",
          disabled: true,
          onclick: () => {
            openStream?.close();
            openStream = null;
            stop.disabled = true;
            status.textContent = "stopped";
          },
        })
      : null;
  const formNode = el(
    "form",
    {
      id: "call",
      oninput: updatePreview,
      onchange: updatePreview,
      onclick: (event) => {
        if (event.target.type === "button") setTimeout(updatePreview);
      },
      onsubmit: (event) => {
        event.preventDefault();
        void execute(p, form, { result, status, stop });
      },
    },
    form ? form.node : el("p", { class: "hint", text: "This procedure takes no input." }),
    el("div", { class: "actions" }, run, stop, status),
  );
  main.replaceChildren(
    el("h2", {}, el("code", { text: p.path }), " ", el("span", { class: `kind ${p.type}`, text: p.type })),
    p.summary ? el("p", { class: "summary", text: p.summary }) : null,
    el(
      "p",
      { class: "who", id: "who" },
      "Who may call: ",
      el("span", { class: `access ${p.access}`, text: accessLabel(p.access) }),
      ` ${accessText[p.access] ?? ""}`,
      p.rest
        ? el("span", { class: "rest" }, " · REST: ", el("code", { text: `${p.rest.method} ${p.rest.path}` }))
        : null,
    ),
    formNode,
    el("h3", { text: p.type === "subscription" ? "Events" : "Result" }),
    result,
    el(
      "details",
      { id: "output-schema", open: true },
      el("summary", { text: p.type === "subscription" ? "Output schema (each event)" : "Output schema" }),
      p.output
        ? el("ul", { class: "outline" }, schemaOutline(p.output))
        : el("p", { class: "hint", text: "No declared output." }),
      p.output
        ? el(
            "details",
            {},
            el("summary", { text: "JSON Schema" }),
            el("pre", { text: JSON.stringify(p.output, null, 2) }),
          )
        : null,
    ),
    el("details", {}, el("summary", { text: "Request input (superjson)" }), preview),
  );
  updatePreview();
}

async function execute(p, form, { result, status, stop }) {
  let input;
  try {
    const value = form ? form.read() : undefined;
    input = value === ABSENT ? undefined : value;
  } catch (error) {
    result.className = "result error";
    result.textContent = error.message;
    return;
  }
  if (p.type === "subscription") {
    subscribe(p, input, { result, status, stop });
    return;
  }
  status.textContent = "running…";
  const { status: http, ms, requestId, outcome } = await call(p.path, p.type, input);
  status.textContent = `HTTP ${http} · ${ms.toFixed(0)} ms · request ${requestId ?? "?"}`;
  result.className = `result ${outcome.ok ? "ok" : "error"}`;
  result.textContent = JSON.stringify(outcome.ok ? outcome.value : { error: outcome.error }, null, 2);
  if (outcome.ok) {
    rememberIds(p.path, outcome.value);
    // A login, registration or refresh run here signs the panel in.
    const tokens = outcome.value?.tokens ?? outcome.value;
    if (typeof tokens?.accessToken === "string") await setToken(tokens.accessToken);
  }
}

function subscribe(p, input, { result, status, stop }) {
  openStream?.close();
  const params = new URLSearchParams();
  if (input !== undefined) params.set("input", JSON.stringify(superjson.serialize(input)));
  // EventSource cannot send headers: credentials go as connection params.
  const connection = {};
  if (currentToken()) connection.token = currentToken();
  if (apiKeyInput.value.trim()) connection.apiKey = apiKeyInput.value.trim();
  if (Object.keys(connection).length > 0) params.set("connectionParams", JSON.stringify(connection));
  const source = new EventSource(`/trpc/${p.path}?${params}`);
  openStream = source;
  stop.disabled = false;
  result.className = "result ok";
  result.textContent = "";
  status.textContent = "listening…";
  const at = () => new Date().toISOString();
  source.onopen = () => {
    if (openStream === source) status.textContent = `listening since ${at()}`;
  };
  source.onmessage = (event) => {
    const data = superjson.deserialize(JSON.parse(event.data));
    result.textContent += `${JSON.stringify({ receivedAt: at(), id: event.lastEventId || null, data }, null, 2)}\n`;
    rememberIds(p.path, data);
  };
  source.addEventListener("serialized-error", (event) => {
    const error = superjson.deserialize(JSON.parse(event.data));
    result.className = "result error";
    result.textContent += `${JSON.stringify({ receivedAt: at(), error }, null, 2)}\n`;
    source.close();
    stop.disabled = true;
    status.textContent = `closed at ${at()}`;
  });
  source.onerror = () => {
    status.textContent = "connection lost; the browser retries";
  };
}

async function start() {
  const saved = localStorage.getItem(TOKEN_KEY);
  if (saved) tokenInput.value = saved;
  apiKeyInput.value = sessionStorage.getItem(API_KEY) ?? "";
  const response = await fetch("/panel/procedures.json");
  ({ procedures, access: accessText } = await response.json());
  renderList("");
  $("#filter").addEventListener("input", (event) => renderList(event.target.value));
  window.addEventListener("hashchange", () => show(location.hash.slice(1)));
  if (location.hash) show(location.hash.slice(1));
  await showWhoAmI();
}

void start();
