// Agora panel: lists the live router's procedures (GET /panel/procedures.json), builds a form
// from each one's input JSON Schema (generated from its zod schema), and calls /trpc with
// superjson, as the SDK does. No framework and nothing from the internet.
import superjson from "superjson";

const TOKEN_KEY = "agora.panel.token";
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
$("#signout").addEventListener("click", () => void setToken(""));

// ---- calling procedures ------------------------------------------------------------------

function headers(json) {
  const h = { accept: "application/json" };
  if (json) h["content-type"] = "application/json";
  const token = currentToken();
  if (token) h.authorization = `Bearer ${token}`;
  return h;
}

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
      const row = el(
        "div",
        { class: "field" },
        el("label", { for: `f-${childPath}`, text: key }, optional),
        w.node,
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
    const long = (schema.maxLength ?? 0) > 300;
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
    const input = long ? el("textarea", { ...attrs, rows: 4 }) : el("input", { ...attrs, type: "text" });
    return {
      node: input,
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
let openStream = null;

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
          el("span", { text: p.path }),
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
        void execute(p, form, { result, status });
      },
    },
    form ? form.node : el("p", { class: "hint", text: "This procedure takes no input." }),
    el("div", { class: "actions" }, run, status),
  );
  main.replaceChildren(
    el("h2", {}, el("code", { text: p.path }), " ", el("span", { class: `kind ${p.type}`, text: p.type })),
    p.summary ? el("p", { class: "hint", text: p.summary }) : null,
    formNode,
    el("h3", { text: "Result" }),
    result,
    el("details", {}, el("summary", { text: "Request input (superjson)" }), preview),
  );
  updatePreview();
}

async function execute(p, form, { result, status }) {
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
    subscribe(p, input, { result, status });
    return;
  }
  status.textContent = "running…";
  const { status: http, ms, requestId, outcome } = await call(p.path, p.type, input);
  status.textContent = `HTTP ${http} · ${ms.toFixed(0)} ms · request ${requestId ?? "?"}`;
  result.className = `result ${outcome.ok ? "ok" : "error"}`;
  result.textContent = JSON.stringify(outcome.ok ? outcome.value : { error: outcome.error }, null, 2);
  if (outcome.ok) {
    // A login, registration or refresh run here signs the panel in.
    const tokens = outcome.value?.tokens ?? outcome.value;
    if (typeof tokens?.accessToken === "string") await setToken(tokens.accessToken);
  }
}

function subscribe(p, input, { result, status }) {
  openStream?.close();
  const params = new URLSearchParams();
  if (input !== undefined) params.set("input", JSON.stringify(superjson.serialize(input)));
  const token = currentToken();
  if (token) params.set("connectionParams", JSON.stringify({ token }));
  const source = new EventSource(`/trpc/${p.path}?${params}`);
  openStream = source;
  result.className = "result ok";
  result.textContent = "";
  status.textContent = "listening…";
  source.onmessage = (event) => {
    const data = superjson.deserialize(JSON.parse(event.data));
    result.textContent += `${JSON.stringify({ id: event.lastEventId || null, data }, null, 2)}\n`;
  };
  source.addEventListener("serialized-error", (event) => {
    const error = superjson.deserialize(JSON.parse(event.data));
    result.className = "result error";
    result.textContent += `${JSON.stringify({ error }, null, 2)}\n`;
    source.close();
    status.textContent = "closed";
  });
  source.onerror = () => {
    status.textContent = "connection lost; the browser retries";
  };
}

async function start() {
  const saved = localStorage.getItem(TOKEN_KEY);
  if (saved) tokenInput.value = saved;
  const response = await fetch("/panel/procedures.json");
  ({ procedures } = await response.json());
  renderList("");
  $("#filter").addEventListener("input", (event) => renderList(event.target.value));
  window.addEventListener("hashchange", () => show(location.hash.slice(1)));
  if (location.hash) show(location.hash.slice(1));
  await showWhoAmI();
}

void start();
