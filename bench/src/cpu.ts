import { readdir, readFile } from "node:fs/promises";

/**
 * CPU time (user + system) from Linux's /proc: what a server spent per request, measured
 * beside its req/s. Unlike req/s, it barely moves when other processes share the machine (it
 * counts the server's own work, not the turns it waited for a core), so it is how a change to
 * the request path is judged on a busy machine, and how the rows are compared with each other.
 * Elsewhere than Linux every reading is null and the columns stay empty.
 */
const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux architecture Node runs on.

interface ProcStat {
  pid: number;
  comm: string;
  pgrp: number;
  cpuSeconds: number;
}

async function procStats(): Promise<ProcStat[] | null> {
  let names: string[];
  try {
    names = await readdir("/proc");
  } catch {
    return null;
  }
  const stats = await Promise.all(
    names
      .filter((name) => /^\d+$/.test(name))
      .map(async (name): Promise<ProcStat | null> => {
        let text: string;
        try {
          text = await readFile(`/proc/${name}/stat`, "utf8");
        } catch {
          return null; // exited meanwhile
        }
        // "pid (comm) state ppid pgrp ... utime stime ...": comm may hold spaces and parentheses.
        const close = text.lastIndexOf(")");
        const comm = text.slice(text.indexOf("(") + 1, close);
        const fields = text.slice(close + 2).split(" ");
        // fields[0] is field 3 (state): pgrp is field 5, utime 14, stime 15.
        const pgrp = Number(fields[2]);
        const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
        return { pid: Number(name), comm, pgrp, cpuSeconds };
      }),
  );
  return stats.filter((s): s is ProcStat => s !== null);
}

export interface CpuReading {
  /** The server's process group: the server, its workers (WEB_CONCURRENCY) and their threads. */
  server: number;
  /**
   * Every `postgres` process on the machine (the bench's own PostgreSQL) by pid, or null if
   * none is visible: by pid, because backends come and go (a process gone by the second
   * reading takes its time with it, a new one counts from zero).
   */
  database: Map<number, number> | null;
}

/** CPU seconds used so far by the process group `pgid` and by PostgreSQL; null off Linux. */
export async function readCpu(pgid: number): Promise<CpuReading | null> {
  const stats = await procStats();
  if (!stats) return null;
  let server = 0;
  const database = new Map<number, number>();
  for (const s of stats) {
    if (s.pgrp === pgid) server += s.cpuSeconds;
    else if (s.comm === "postgres") database.set(s.pid, s.cpuSeconds);
  }
  return { server, database: database.size > 0 ? database : null };
}

export interface CpuPerRequest {
  /** Microseconds of CPU the server spent per request. */
  serverUs: number;
  /** Microseconds of CPU PostgreSQL spent per request, when the bench can see it. */
  databaseUs: number | null;
}

export function cpuPerRequest(before: CpuReading, after: CpuReading, requests: number): CpuPerRequest {
  const us = (seconds: number) => (seconds * 1e6) / Math.max(requests, 1);
  let database: number | null = null;
  if (before.database && after.database) {
    database = 0;
    for (const [pid, seconds] of after.database) database += seconds - (before.database.get(pid) ?? 0);
  }
  return { serverUs: us(after.server - before.server), databaseUs: database === null ? null : us(database) };
}
