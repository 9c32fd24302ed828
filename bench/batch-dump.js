// Figure 2: dumping a 1,000,000-entry hash map (u32 key, u64 value) with
// BPF_MAP_LOOKUP_BATCH (BpfMap.batchChunks) against the per-key walk
// (BPF_MAP_GET_NEXT_KEY + BPF_MAP_LOOKUP_ELEM, the map's iterator).
// Both dumps are checked: 1,000,000 entries each, the same contents, and the
// contents written. Filling the map is not timed.

import { check, dist, fmt, gc, nowNs } from './util.js';

const ENTRIES = 1_000_000;
const RUNS = 3;
const FILL_CHUNK = 100_000;
const TARGET_SPEEDUP = 4;
/** getBatch's default batch size (elements per syscall); the syscalls-only pass uses the same. */
const BATCH_SIZE = 4096;

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

/**
 * The BPF_MAP_LOOKUP_BATCH syscalls getBatch issues (same batch size), without
 * building any JS entries: how much of getBatch is the kernel's part.
 * Context only; null when the internal modules are not there.
 */
async function syscallsOnly(map) {
  let mapBatch, allocNative, cmd, ENOENT;
  try {
    ({ mapBatch } = await dist('sys/map-attr.js'));
    ({ allocNative } = await dist('sys/ffi.js'));
    ({ ENOENT } = await dist('sys/errno.js'));
    cmd = await dist('sys/bpf-cmd.js');
  } catch {
    return null;
  }
  if (typeof mapBatch !== 'function' || typeof allocNative !== 'function') return null;
  const size = BATCH_SIZE;
  const inBatch = allocNative(8);
  const outBatch = allocNative(8);
  const keys = allocNative(size * 4);
  const values = allocNative(size * 8);
  return () => {
    let total = 0;
    for (let first = true; ; first = false) {
      const { result, count } = mapBatch(cmd.BPF_MAP_LOOKUP_BATCH, {
        fd: map.fd.value,
        inBatch: first ? null : inBatch,
        outBatch,
        keys,
        values,
        count: size,
      });
      total += count;
      if (result === -ENOENT) break; // end of map, `count` entries still filled
      check(result >= 0, `BPF_MAP_LOOKUP_BATCH failed: ${result}`);
      inBatch.bytes.set(outBatch.bytes);
    }
    return total;
  };
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
    const rawDump = await syscallsOnly(map);
    let batchMs = Infinity;
    let walkMs = Infinity;
    let rawMs = Infinity;
    let entriesMs = Infinity;
    for (let r = 0; r < RUNS; r++) {
      if (rawDump) {
        const raw = timed(rawDump);
        check(raw.result === ENTRIES, `BPF_MAP_LOOKUP_BATCH returned ${raw.result} entries, expected ${ENTRIES}`);
        rawMs = Math.min(rawMs, raw.ms);
      }

      // Both dumps decode every value into a table by key: what a caller reading counters does.
      const batch = timed(() => {
        const out = new Float64Array(ENTRIES).fill(-1);
        let n = 0;
        for (const c of map.batchChunks({ batchSize: BATCH_SIZE })) {
          // The chunk's native buffers are 8-byte aligned: read them as typed arrays.
          const keys = new Uint32Array(c.keys.buffer, c.keys.byteOffset, c.count);
          const vals = new Uint32Array(c.values.buffer, c.values.byteOffset, c.count * 2);
          for (let i = 0; i < c.count; i++) {
            const key = keys[i];
            if (key >= ENTRIES || out[key] !== -1) check(false, `batchChunks: bad or repeated key ${key}`);
            out[key] = vals[2 * i] + vals[2 * i + 1] * 2 ** 32;
          }
          n += c.count;
        }
        check(n === ENTRIES, `batchChunks: ${n} entries, expected ${ENTRIES}`);
        return out;
      });
      batchMs = Math.min(batchMs, batch.ms);
      const fromBatch = batch.result;

      const walk = timed(() => {
        const out = new Float64Array(ENTRIES).fill(-1);
        let n = 0;
        for (const [k, v] of map) {
          const key = k.readUInt32LE(0);
          check(key < ENTRIES && out[key] === -1, `walk: bad or repeated key ${key}`);
          out[key] = v.readUInt32LE(0) + v.readUInt32LE(4) * 2 ** 32;
          n++;
        }
        check(n === ENTRIES, `walk: ${n} entries, expected ${ENTRIES}`);
        return out;
      });
      walkMs = Math.min(walkMs, walk.ms);
      const fromWalk = walk.result;

      // getBatch (an array of [key, value] Buffers) for context, and as a third opinion on contents.
      const entries = timed(() => map.getBatch({ batchSize: BATCH_SIZE }));
      entriesMs = Math.min(entriesMs, entries.ms);
      const fromEntries = index(entries.result, 'getBatch');
      entries.result = null;

      for (let k = 0; k < ENTRIES; k++) {
        check(fromBatch[k] === fromWalk[k] && fromBatch[k] === fromEntries[k], `key ${k}: batchChunks ${fromBatch[k]}, walk ${fromWalk[k]}, getBatch ${fromEntries[k]}`);
        check(fromBatch[k] === valueOf(k), `key ${k}: dumped ${fromBatch[k]}, written ${valueOf(k)}`);
      }
    }
    const speedup = walkMs / batchMs;
    return [
      {
        name: 'batch dump',
        line: `batch dump: ${fmt.ms(batchMs)} ms, per-key walk ${fmt.ms(walkMs)} ms, speedup ${speedup.toFixed(1)}`,
        detail:
          `${ENTRIES} entries (filled with ${filledWith}), batchChunks vs the get_next_key + lookup walk, both decoded into a table, equal; best of ${RUNS}` +
          `; getBatch (an array of Buffer pairs) ${fmt.ms(entriesMs)} ms` +
          (rawDump ? `; getBatch's ${BATCH_SIZE}-entry LOOKUP_BATCH syscalls alone take ${fmt.ms(rawMs)} ms` : ''),
        checks: [{ value: `speedup ${speedup.toFixed(1)}`, target: `speedup >= ${TARGET_SPEEDUP}`, pass: speedup >= TARGET_SPEEDUP }],
      },
    ];
  } finally {
    map.close();
  }
}
