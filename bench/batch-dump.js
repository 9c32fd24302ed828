// Figure 2: dumping a 1,000,000-entry hash map (u32 key, u64 value) with
// BPF_MAP_LOOKUP_BATCH (BpfMap.getBatch) against the per-key walk
// (BPF_MAP_GET_NEXT_KEY + BPF_MAP_LOOKUP_ELEM, the map's iterator).
// Both dumps are checked: 1,000,000 entries each, the same contents, and the
// contents written. Filling the map is not timed.

import { check, dist, fmt, gc, nowNs } from './util.js';

const ENTRIES = 1_000_000;
const RUNS = 3;
const FILL_CHUNK = 100_000;
const TARGET_SPEEDUP = 4;

/** The value stored at key k (a safe integer, so plain numbers suffice). */
const valueOf = (k) => k * 2_654_435_761 + 1;

/**
 * Decode a dump into values indexed by key, checking its shape: exactly
 * ENTRIES entries, 4-byte keys below ENTRIES, each key once, 8-byte values.
 */
function index(entries, what) {
  check(entries.length === ENTRIES, `${what}: ${entries.length} entries, expected ${ENTRIES}`);
  const values = new Float64Array(ENTRIES).fill(-1);
  for (const [k, v] of entries) {
    check(k.length === 4 && v.length === 8, `${what}: key/value of ${k.length}/${v.length} bytes, expected 4/8`);
    const key = k.readUInt32LE(0);
    check(key < ENTRIES, `${what}: unexpected key ${key}`);
    check(values[key] === -1, `${what}: key ${key} returned twice`);
    values[key] = v.readUInt32LE(0) + v.readUInt32LE(4) * 2 ** 32;
  }
  return values;
}

function fill(map) {
  if (typeof map.setBatch === 'function') {
    for (let start = 0; start < ENTRIES; start += FILL_CHUNK) {
      const chunk = [];
      for (let k = start; k < Math.min(ENTRIES, start + FILL_CHUNK); k++) chunk.push([k, valueOf(k)]);
      const n = map.setBatch(chunk);
      check(n === chunk.length, `setBatch wrote ${n} of ${chunk.length}`);
    }
    return 'setBatch';
  }
  for (let k = 0; k < ENTRIES; k++) map.set(k, valueOf(k));
  return 'set loop';
}

function timed(fn) {
  gc();
  const t0 = nowNs();
  const result = fn();
  return { ms: (nowNs() - t0) / 1e6, result };
}

export async function batchDump() {
  const { BpfMap } = await dist('maps/map.js');
  const { BPF_MAP_TYPE } = await dist('uapi/bpf.js');
  const map = BpfMap.create({ name: 'bench_dump', type: BPF_MAP_TYPE.HASH, keySize: 4, valueSize: 8, maxEntries: ENTRIES });
  try {
    const filledWith = fill(map);
    let batchMs = Infinity;
    let walkMs = Infinity;
    for (let r = 0; r < RUNS; r++) {
      const batch = timed(() => map.getBatch());
      batchMs = Math.min(batchMs, batch.ms);
      const fromBatch = index(batch.result, 'getBatch');
      batch.result = null;

      const walk = timed(() => [...map]);
      walkMs = Math.min(walkMs, walk.ms);
      const fromWalk = index(walk.result, 'per-key walk');
      walk.result = null;

      for (let k = 0; k < ENTRIES; k++) {
        check(fromBatch[k] === fromWalk[k], `key ${k}: getBatch has ${fromBatch[k]}, the walk ${fromWalk[k]}`);
        check(fromBatch[k] === valueOf(k), `key ${k}: dumped ${fromBatch[k]}, written ${valueOf(k)}`);
      }
    }
    const speedup = walkMs / batchMs;
    return [
      {
        name: 'batch dump',
        line: `batch dump: ${fmt.ms(batchMs)} ms, per-key walk ${fmt.ms(walkMs)} ms, speedup ${speedup.toFixed(1)}`,
        detail: `${ENTRIES} entries (filled with ${filledWith}), both dumps equal, best of ${RUNS}`,
        checks: [{ value: `speedup ${speedup.toFixed(1)}`, target: `speedup >= ${TARGET_SPEEDUP}`, pass: speedup >= TARGET_SPEEDUP }],
      },
    ];
  } finally {
    map.close();
  }
}
