// Figure 1: single-element BPF_MAP_LOOKUP_ELEM / BPF_MAP_UPDATE_ELEM on a
// hash map (u32 key, u64 value), BpfMap.get/set in a tight loop against the
// same syscalls issued from C (bench/c/map_ops.c).
//
// The C baseline runs as a separate process. To keep both sides under the same
// machine load, runs alternate: C run, TypeScript run, C run, ... and each side
// keeps its best run.

import { check, compileC, dist, fmt, nowNs, runC } from './util.js';

const ENTRIES = 1024; // power of two: keys are i & (ENTRIES - 1)
const OPS = 200_000;
const RUNS = 5;
const WARMUP = 50_000;
const TARGET_RATIO = 1.2;

function timeGet(map, ops, mask) {
  let sink = 0;
  const t0 = nowNs();
  for (let i = 0; i < ops; i++) {
    const v = map.get(i & mask);
    if (v === undefined) throw new Error(`key ${i & mask} missing`);
    sink += v[0];
  }
  return { ns: (nowNs() - t0) / ops, sink };
}

function timeLookupInto(map, ops, mask, out) {
  let sink = 0;
  const t0 = nowNs();
  for (let i = 0; i < ops; i++) {
    if (!map.lookupInto(i & mask, out)) throw new Error(`key ${i & mask} missing`);
    sink += out[0];
  }
  return { ns: (nowNs() - t0) / ops, sink };
}

function timeSet(map, ops, mask) {
  const t0 = nowNs();
  for (let i = 0; i < ops; i++) map.set(i & mask, i);
  return { ns: (nowNs() - t0) / ops, sink: 0 };
}

export async function mapOps() {
  const binary = compileC('map_ops');
  const { BpfMap } = await dist('maps/map.js');
  const { BPF_MAP_TYPE } = await dist('uapi/bpf.js');

  const map = BpfMap.create({ name: 'bench_ops', type: BPF_MAP_TYPE.HASH, keySize: 4, valueSize: 8, maxEntries: ENTRIES });
  try {
    const mask = ENTRIES - 1;
    for (let k = 0; k < ENTRIES; k++) map.set(k, k * 3);
    const value = map.get(7);
    check(value !== undefined && value.readBigUInt64LE(0) === 21n, 'map_ops: prefilled value reads back wrong');

    const hasInto = typeof map.lookupInto === 'function';
    const out = Buffer.alloc(8);
    const tests = [
      { key: 'lookup', run: (n) => timeGet(map, n, mask), c: 'lookupNs' },
      { key: 'update', run: (n) => timeSet(map, n, mask), c: 'updateNs' },
    ];
    if (hasInto) tests.push({ key: 'lookupInto', run: (n) => timeLookupInto(map, n, mask, out), c: 'lookupNs' });

    // Warm-up: let V8 optimise the loops and the library's hot path.
    for (const t of tests) t.run(WARMUP);

    const best = { c: { lookupNs: Infinity, updateNs: Infinity } };
    for (const t of tests) best[t.key] = Infinity;
    for (let r = 0; r < RUNS; r++) {
      const c = runC(binary, [ENTRIES, OPS, 1]);
      best.c.lookupNs = Math.min(best.c.lookupNs, c.lookupNs);
      best.c.updateNs = Math.min(best.c.updateNs, c.updateNs);
      for (const t of tests) best[t.key] = Math.min(best[t.key], t.run(OPS).ns);
    }
    const lastKey = (OPS - 1) & mask;
    check(map.get(lastKey)?.readBigUInt64LE(0) === BigInt(OPS - 1), 'map_ops: value after the update loop is wrong');

    const figures = [];
    for (const t of tests) {
      const ts = best[t.key];
      const c = best.c[t.c];
      const ratio = ts / c;
      const label = t.key === 'lookupInto' ? 'map lookupInto' : `map ${t.key}`;
      figures.push({
        name: label,
        line: `${label}: ${fmt.ns(ts)} ns/op, C ${fmt.ns(c)} ns/op, ratio ${fmt.ratio(ratio)}`,
        checks: [{ value: `ratio ${fmt.ratio(ratio)}`, target: `ratio <= ${TARGET_RATIO}`, pass: ratio <= TARGET_RATIO }],
      });
    }
    if (!hasInto) figures.push({ name: 'map lookupInto', line: 'map lookupInto: skipped (BpfMap has no lookupInto)', skip: 'no lookupInto' });
    return figures;
  } finally {
    map.close();
  }
}
