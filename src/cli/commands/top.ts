// bpf-ts top: like bpftop. Turns on BPF run-time statistics (BPF_ENABLE_STATS)
// while it runs and, every interval, shows each loaded program's runs per
// second, average run time and share of one CPU, from the deltas of
// run_cnt/run_time_ns. The statistics fd is closed on every exit path, which
// puts the kernel's statistics back to what they were before.

import { constants } from 'node:os';
import { BpfError } from '../../errors.js';
import { Fd } from '../../sys/fd.js';
import type { ProgInfo } from '../../sys/info.js';
import { listPrograms } from '../../sys/ids.js';
import { enableStats } from '../../sys/link-attr.js';
import { progTypeName } from '../../uapi/bpf.js';
import { defineCommand } from '../command.js';
import { table } from '../format.js';

export interface TopRow {
  id: number;
  type: string;
  name: string;
  /** Runs per second over the last interval. */
  runsPerSec: number;
  /** Average ns per run over the last interval (0 when it did not run). */
  avgNs: number;
  /** Percent of one CPU spent in the program over the last interval. */
  cpuPercent: number;
  /** Totals since statistics were enabled. */
  totalRuns: string;
  totalNs: string;
}

const SORT_KEYS = ['cpu', 'runs', 'avg', 'id', 'name'] as const;
type SortKey = (typeof SORT_KEYS)[number];

/** The rows for one interval, from two samples of program info (pure: tested without a kernel). */
export function topRows(prev: Map<number, ProgInfo>, now: ProgInfo[], seconds: number, sort: SortKey = 'cpu'): TopRow[] {
  const rows: TopRow[] = now.map((p) => {
    const before = prev.get(p.id);
    const runs = Number(p.runCnt - (before?.runCnt ?? p.runCnt));
    const ns = Number(p.runTimeNs - (before?.runTimeNs ?? p.runTimeNs));
    return {
      id: p.id,
      type: progTypeName(p.type),
      name: p.name,
      runsPerSec: seconds > 0 ? Math.round(runs / seconds) : 0,
      avgNs: runs > 0 ? Math.round(ns / runs) : 0,
      cpuPercent: seconds > 0 ? Math.round((ns / (seconds * 1e9)) * 100 * 100) / 100 : 0,
      totalRuns: p.runCnt.toString(),
      totalNs: p.runTimeNs.toString(),
    };
  });
  const by: Record<SortKey, (a: TopRow, b: TopRow) => number> = {
    cpu: (a, b) => b.cpuPercent - a.cpuPercent || b.runsPerSec - a.runsPerSec || a.id - b.id,
    runs: (a, b) => b.runsPerSec - a.runsPerSec || a.id - b.id,
    avg: (a, b) => b.avgNs - a.avgNs || a.id - b.id,
    id: (a, b) => a.id - b.id,
    name: (a, b) => a.name.localeCompare(b.name) || a.id - b.id,
  };
  return rows.sort(by[sort]);
}

function positiveNumber(v: unknown, what: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new BpfError('USAGE', `${what} must be a positive number, got ${String(v)}`);
  return n;
}

export const top = defineCommand({
  name: 'top',
  summary: "show every loaded program's runs/s, ns/run and CPU share, refreshed live (like bpftop)",
  usage: 'bpf-ts top [--interval SECONDS] [--count N] [--sort cpu|runs|avg|id|name] [--limit N] [--json]',
  options: {
    interval: { type: 'string' },
    count: { type: 'string' },
    sort: { type: 'string' },
    limit: { type: 'string' },
  },
  async run(_positionals, values, ctx) {
    const interval = positiveNumber(values.interval, '--interval', 1);
    const count = values.count === undefined ? Infinity : positiveNumber(values.count, '--count', 1);
    const limit = values.limit === undefined ? Infinity : positiveNumber(values.limit, '--limit', 1);
    const sort = (values.sort ?? 'cpu') as SortKey;
    if (!SORT_KEYS.includes(sort)) throw new BpfError('USAGE', `--sort must be one of ${SORT_KEYS.join(', ')}, got ${String(values.sort)}`);

    const stats = new Fd(enableStats(), 'BPF run-time statistics');
    let stop: (() => void) | undefined;
    const stopped = new Promise<void>((r) => (stop = r));
    // Ctrl-C ends top as it ends every command: exit 128 + the signal's number (docs/cli.md, Exit paths).
    let caught: NodeJS.Signals | undefined;
    const onSignal = (sig: NodeJS.Signals): void => {
      caught ??= sig;
      stop?.();
    };
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    for (const s of signals) process.on(s, onSignal);
    try {
      let prev = new Map(listPrograms().map((p) => [p.id, p]));
      let t0 = process.hrtime.bigint();
      for (let i = 0; i < count; i++) {
        let timer: NodeJS.Timeout | undefined;
        const ended = await Promise.race([stopped.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), interval * 1000)))]);
        clearTimeout(timer);
        if (ended) break;
        const now = listPrograms();
        const t1 = process.hrtime.bigint();
        const rows = topRows(prev, now, Number(t1 - t0) / 1e9, sort).slice(0, limit);
        prev = new Map(now.map((p) => [p.id, p]));
        t0 = t1;
        if (ctx.json) {
          // One line per interval, so a consumer can read it as a stream.
          ctx.print(JSON.stringify({ time: new Date().toISOString(), intervalSec: interval, programs: rows }));
        } else {
          ctx.print(`${new Date().toISOString()}  ${now.length} programs`);
          ctx.print(
            table(
              ['ID', 'TYPE', 'NAME', 'RUNS/S', 'AVG NS', 'CPU %'],
              rows.map((r) => [r.id, r.type, r.name, r.runsPerSec, r.avgNs, r.cpuPercent.toFixed(2)]),
            ),
          );
          ctx.print('');
        }
      }
    } finally {
      for (const s of signals) process.off(s, onSignal);
      stats.close();
    }
    return caught ? 128 + constants.signals[caught] : 0;
  },
});
