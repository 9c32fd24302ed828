// Counter maps of a loaded object, read for `run` and `demo`: arrays and
// hashes of u32/u64 values, per-CPU values summed.

import type { BpfCollection } from '../collection.js';
import { readU32, readU64 } from '../maps/codec.js';
import type { BpfMap, MapValue } from '../maps/map.js';
import { BPF_MAP_TYPE } from '../uapi/bpf.js';
import type { CommandContext } from './command.js';
import { table } from './format.js';

const COUNTER_TYPES = new Set<number>([BPF_MAP_TYPE.ARRAY, BPF_MAP_TYPE.PERCPU_ARRAY, BPF_MAP_TYPE.HASH, BPF_MAP_TYPE.PERCPU_HASH, BPF_MAP_TYPE.LRU_HASH, BPF_MAP_TYPE.LRU_PERCPU_HASH]);
const MAX_ROWS = 64;

export interface CounterRow {
  map: string;
  key: string;
  value: bigint;
}

/** A u32 or u64 counter value (host byte order), per-CPU values summed; 0 when absent. */
export function sumCounter(v: MapValue | undefined, valueSize: number): bigint {
  if (!v) return 0n;
  const one = (b: Buffer) => (valueSize === 8 ? readU64(b) : BigInt(readU32(b)));
  return Array.isArray(v) ? v.reduce((a, b) => a + one(b), 0n) : one(v);
}

function keyText(k: Buffer): string {
  return k.length === 4 ? String(k.readUInt32LE(0)) : k.toString('hex');
}

export function counterMaps(coll: BpfCollection): [string, BpfMap][] {
  return [...coll.maps].filter(([name, m]) => !name.startsWith('.') && COUNTER_TYPES.has(m.type) && (m.valueSize === 4 || m.valueSize === 8));
}

export function readCounters(coll: BpfCollection): CounterRow[] {
  const rows: CounterRow[] = [];
  for (const [name, m] of counterMaps(coll)) {
    let n = 0;
    for (const [k, v] of m.perCpu ? m.getBatchPerCpu() : m.getBatch()) {
      if (n++ >= MAX_ROWS) break;
      rows.push({ map: name, key: keyText(k), value: sumCounter(v, m.valueSize) });
    }
  }
  return rows;
}

/**
 * `run`'s periodic report: every counter with its rate since the previous
 * call, as a table or one JSON line (`{elapsed, counters}`).
 */
export function counterReporter(coll: BpfCollection, ctx: CommandContext): () => void {
  const started = Date.now();
  let prev = new Map<string, bigint>();
  let prevAt = started;
  return () => {
    const now = Date.now();
    const secs = (now - prevAt) / 1000 || 1;
    const rows = readCounters(coll).map((r) => ({ ...r, rate: Number(r.value - (prev.get(`${r.map}/${r.key}`) ?? 0n)) / secs }));
    prev = new Map(rows.map((r) => [`${r.map}/${r.key}`, r.value]));
    prevAt = now;
    if (ctx.json) {
      ctx.print(JSON.stringify({ elapsed: (now - started) / 1000, counters: rows.map((r) => ({ map: r.map, key: r.key, value: r.value.toString(), perSecond: Math.round(r.rate * 10) / 10 })) }));
    } else {
      ctx.print(`--- ${((now - started) / 1000).toFixed(1)} s`);
      ctx.print(
        rows.length
          ? table(
              ['MAP', 'KEY', 'VALUE', 'PER SECOND'],
              rows.map((r) => [r.map, r.key, r.value.toString(), r.rate.toFixed(1)]),
            )
          : '(no counter maps)',
      );
    }
  };
}
