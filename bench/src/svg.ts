import { median } from "./procs.js";
import { tenReads, type Report, type Row } from "./report.js";
import type { ScenarioId, ServerId } from "./scenarios.js";

/** One colour per server, the same in every panel and in the legend. */
const COLORS: Record<ServerId | "derived", string> = {
  agora: "#2563eb",
  "agora-baseline": "#93c5fd",
  "agora-baseline+cache": "#c4b5fd",
  "agora+cache": "#7c3aed",
  "agora+cache+redis": "#c026d3",
  "agora-x2": "#0891b2",
  "agora-pooler": "#60a5fa",
  "express-prisma": "#ea580c",
  "express-bare": "#65a30d",
  "fastify-prisma": "#b45309",
  "fastify-bare": "#15803d",
  "node-pg": "#475569",
  "node-pg-orders": "#334155",
  derived: "#fdba74",
};

interface Bar {
  label: string;
  value: number;
  text: string;
  color: string;
}

interface Panel {
  title: string;
  unit: string;
  bars: Bar[];
}

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const int = (v: number) => Math.round(v).toLocaleString("en-US");

function rowBars(rows: readonly Row[], scenario: ScenarioId): Bar[] {
  return rows
    .filter((r) => r.scenario === scenario && !r.skipped && Number.isFinite(r.reqPerSec))
    .map((r) => ({
      label: r.label,
      value: r.reqPerSec,
      text: r.derived
        ? `${int(r.reqPerSec)} req/s (derived, not run)`
        : `${int(r.reqPerSec)} req/s · p99 ${r.p99Ms.toFixed(1)} ms`,
      color: r.derived ? COLORS.derived : COLORS[r.server],
    }));
}

function panels(report: Report): Panel[] {
  const { rows } = report;
  const out: Panel[] = [
    {
      title: "health.live / GET /health",
      unit: "requests per second, higher is better",
      bars: rowBars(rows, "health.live"),
    },
    {
      title: "markets.byId",
      unit: "requests per second, higher is better",
      bars: rowBars(rows, "markets.byId"),
    },
    {
      title: "markets.list (20, owners, total)",
      unit: "requests per second, higher is better",
      bars: rowBars(rows, "markets.list"),
    },
  ];
  const me = rows.find((r) => r.scenario === "users.me" && r.server === "agora");
  const byId = rows.find((r) => r.scenario === "users.byId" && r.server === "agora");
  if (me && byId) {
    out.push({
      title: "users.me (authenticated) vs users.byId (Agora)",
      unit: "requests per second, higher is better",
      bars: [
        {
          label: "users.me",
          value: me.reqPerSec,
          text: `${int(me.reqPerSec)} req/s · p99 ${me.p99Ms.toFixed(1)} ms`,
          color: COLORS.agora,
        },
        {
          label: "users.byId",
          value: byId.reqPerSec,
          text: `${int(byId.reqPerSec)} req/s · p99 ${byId.p99Ms.toFixed(1)} ms`,
          color: COLORS.agora,
        },
      ],
    });
  }
  const ten = tenReads(rows);
  if (ten) {
    out.push({
      title: "ten users.byId reads (Agora)",
      unit: "ms of server time per ten reads, lower is better",
      bars: [
        {
          label: "one batch request",
          value: ten.batchMs,
          text: `${ten.batchMs.toFixed(2)} ms`,
          color: COLORS.agora,
        },
        {
          label: "ten requests",
          value: ten.separateMs,
          text: `${ten.separateMs.toFixed(2)} ms`,
          color: COLORS.agora,
        },
      ],
    });
  }
  const orders = rowBars(rows, "orders.create");
  if (orders.length > 0)
    out.push({
      title: "orders.create under contention (4 markets)",
      unit: "requests per second, higher is better",
      bars: orders,
    });
  const flashSale = rowBars(rows, "orders.create hot market");
  if (flashSale.length > 0)
    out.push({
      title: "orders.create on one hot market (32 buyers, one product)",
      unit: "requests per second, higher is better",
      bars: flashSale,
    });
  if (report.eventLoop.length > 0) {
    const idle = median(report.eventLoop.map((e) => e.idleP99Ms));
    const loaded = median(report.eventLoop.map((e) => e.loadedP99Ms));
    out.push({
      title: `health.live p99 while another process sends ${report.meta.loginRate} auth.login/s (bcrypt cost ${report.meta.bcryptCost})`,
      unit: "p99 latency in ms, lower is better",
      bars: [
        { label: "idle", value: idle, text: `${idle.toFixed(1)} ms`, color: COLORS.agora },
        {
          label: `with ${report.meta.loginRate} logins/s sent`,
          value: loaded,
          text: `${loaded.toFixed(1)} ms (${median(report.eventLoop.map((e) => e.loginsOkPerSec)).toFixed(1)} logins/s completed)`,
          color: COLORS.agora,
        },
      ],
    });
  }
  const e = report.embeddedStart;
  if (e && e.firstStartMs !== null && e.restartMs !== null) {
    out.push({
      title: "embedded default (PGlite): start to first served request",
      unit: "seconds, lower is better",
      bars: [
        {
          label: "first start (empty DATA_DIR)",
          value: e.firstStartMs / 1000,
          text: `${(e.firstStartMs / 1000).toFixed(2)} s`,
          color: COLORS.agora,
        },
        {
          label: "restart",
          value: e.restartMs / 1000,
          text: `${(e.restartMs / 1000).toFixed(2)} s`,
          color: COLORS.agora,
        },
      ],
    });
  }
  return out.filter((p) => p.bars.length > 0);
}

/** A self-contained SVG of the report: one panel per scenario, each with its own linear scale. */
export function renderSvg(report: Report): string {
  const width = 1000;
  const labelW = 230;
  const barMax = 470;
  const barH = 18;
  const gap = 6;
  const parts: string[] = [];
  let y = 0;

  const legend = (Object.keys(COLORS) as (keyof typeof COLORS)[]).map((k) => ({
    color: COLORS[k],
    label:
      k === "derived"
        ? "FastAPI (derived from the issue's ratio, not run)"
        : (report.rows.find((r) => r.server === k && !r.derived)?.label ?? k),
  }));

  parts.push(
    `<text x="20" y="${(y += 30)}" font-size="20" font-weight="bold">Agora side-by-side benchmark</text>`,
  );
  const m = report.meta;
  const subtitle = [
    `${m.date} · ${m.cpus} x ${m.cpuModel} · Node ${m.node} · PostgreSQL ${m.postgres}`,
    `${m.wrk} · median of ${m.rounds} interleaved rounds, each ${m.warmupSeconds} s warm-up + ${m.durationSeconds} s measured`,
    `Absolute numbers drift between runs on shared machines; compare ratios within one run.${
      m.loadAverage ? ` Load average ${m.loadAverage[0].toFixed(1)} -> ${m.loadAverage[1].toFixed(1)}.` : ""
    }`,
    ...m.notes.filter((n) => n.startsWith("†")),
  ];
  y += 4;
  for (const line of subtitle) {
    parts.push(`<text x="20" y="${(y += 17)}" font-size="12" fill="#374151">${esc(line)}</text>`);
  }
  y += 12;
  let lx = 20;
  for (const item of legend) {
    const w = 24 + item.label.length * 6.6;
    if (lx + w > width - 20) {
      lx = 20;
      y += 20;
    }
    parts.push(`<rect x="${lx}" y="${y}" width="14" height="14" fill="${item.color}"/>`);
    parts.push(`<text x="${lx + 20}" y="${y + 12}" font-size="12">${esc(item.label)}</text>`);
    lx += w + 12;
  }
  y += 30;

  for (const panel of panels(report)) {
    const max = Math.max(...panel.bars.map((b) => b.value), 1e-9);
    parts.push(`<text x="20" y="${(y += 18)}" font-size="15" font-weight="bold">${esc(panel.title)}</text>`);
    parts.push(`<text x="20" y="${(y += 16)}" font-size="11" fill="#6b7280">${esc(panel.unit)}</text>`);
    y += 8;
    for (const bar of panel.bars) {
      const w = Math.max(1, (bar.value / max) * barMax);
      parts.push(
        `<text x="${labelW}" y="${y + 13}" font-size="12" text-anchor="end">${esc(bar.label)}</text>`,
        `<rect x="${labelW + 8}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${bar.color}"/>`,
        `<text x="${(labelW + 14 + w).toFixed(1)}" y="${y + 13}" font-size="12" fill="#111827">${esc(bar.text)}</text>`,
      );
      y += barH + gap;
    }
    y += 14;
  }

  const height = y + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}
