// Counter maps of a loaded object, read for `run` and `demo`: arrays and
// hashes of u32/u64 values, per-CPU values summed.

import type { BpfCollection } from '../collection.js';
import type { BpfMap } from '../maps/map.js';
import { BPF_MAP_TYPE } from '../uapi/bpf.js';

const COUNTER_TYPES = new Set<number>([
  BPF_MAP_TYPE.ARRAY, BPF_MAP_TYPE.PERCPU_ARRAY, BPF_MAP_TYPE.HASH,
  BPF_MAP_TYPE.PERCPU_HASH, BPF_MAP_TYPE.LRU_HASH, BPF_MAP_TYPE.LRU_PERCPU_HASH,
]);
const MAX_ROWS = 64;

export interface CounterRow {
  map: string;
  key: string;
  value: bigint;
}

function scalar(b: Buffer, size: number): bigint {
  return size === 8 ? b.readBigUInt64LE(0) : BigInt(b.readUInt32LE(0));
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
    for (const [k, v] of m.getBatch()) {
      if (n++ >= MAX_ROWS) break;
      const values = Array.isArray(v) ? v : [v];
      rows.push({ map: name, key: keyText(k), value: values.reduce((a, b) => a + scalar(b, m.valueSize), 0n) });
    }
  }
  return rows;
}
