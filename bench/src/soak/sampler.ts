import { readFile } from "node:fs/promises";
import type { MemorySample } from "./stats.js";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (comments skipped). */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    if (space < 0) continue;
    const head = line.slice(0, space);
    const value = Number(line.slice(space + 1));
    const brace = head.indexOf("{");
    const name = brace < 0 ? head : head.slice(0, brace);
    const labels: Record<string, string> = {};
    if (brace >= 0) {
      for (const m of head.slice(brace).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
        if (m[1] !== undefined && m[2] !== undefined) labels[m[1]] = m[2];
      }
    }
    samples.push({ name, labels, value });
  }
  return samples;
}

export interface Scrape {
  memory: Omit<MemorySample, "atMs">;
  /** Calls the server itself counted as 5xx outcomes (INTERNAL_SERVER_ERROR, SERVICE_UNAVAILABLE). */
  server5xxCalls: number;
}

const FIVE_XX_CODES = new Set(["INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"]);

/**
 * Reads the server process's memory from its own /metrics (prom-client's default metrics,
 * prefixed `agora_`: process_resident_memory_bytes is /proc/self/status VmRSS, heap used is
 * V8's). If the scrape fails, falls back to /proc/<pid>/status for RSS alone.
 */
export class ServerSampler {
  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly pid: number | undefined,
  ) {}

  async scrape(): Promise<Scrape> {
    const res = await fetch(`${this.url}/metrics`, {
      headers: { Authorization: `Bearer ${this.token}` },
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`GET /metrics answered ${res.status}: ${text.slice(0, 200)}`);
    const samples = parsePrometheus(text);
    const one = (name: string) => samples.find((s) => s.name === name)?.value ?? null;
    const rss = one("agora_process_resident_memory_bytes");
    if (rss === null) throw new Error("GET /metrics has no agora_process_resident_memory_bytes");
    const lag = one("agora_nodejs_eventloop_lag_p99_seconds");
    return {
      memory: {
        rssBytes: rss,
        heapUsedBytes: one("agora_nodejs_heap_size_used_bytes"),
        heapTotalBytes: one("agora_nodejs_heap_size_total_bytes"),
        externalBytes: one("agora_nodejs_external_memory_bytes"),
        activeHandles: one("agora_nodejs_active_handles_total"),
        eventLoopP99Ms: lag === null ? null : lag * 1000,
        cpuSeconds: one("agora_process_cpu_seconds_total"),
      },
      server5xxCalls: samples
        .filter((s) => s.name === "agora_procedure_calls_total" && FIVE_XX_CODES.has(s.labels.code ?? ""))
        .reduce((sum, s) => sum + s.value, 0),
    };
  }

  /** A memory sample now; `null` fields when only /proc could be read. */
  async sample(atMs: number): Promise<{ sample: MemorySample; scrape: Scrape | null; error: string | null }> {
    try {
      const scrape = await this.scrape();
      return { sample: { atMs, ...scrape.memory }, scrape, error: null };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (this.pid === undefined) throw error;
      const status = await readFile(`/proc/${this.pid}/status`, "utf8");
      const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
      if (kb === undefined) throw new Error(`no VmRSS in /proc/${this.pid}/status (${message})`);
      return {
        sample: {
          atMs,
          rssBytes: Number(kb) * 1024,
          heapUsedBytes: null,
          heapTotalBytes: null,
          externalBytes: null,
          activeHandles: null,
          eventLoopP99Ms: null,
          cpuSeconds: null,
        },
        scrape: null,
        error: message,
      };
    }
  }
}
