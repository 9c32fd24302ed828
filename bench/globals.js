// Figure: a u64 counter in .bss read through collection.globals (the data
// map's mmap: no syscall) against the C way without mmap — BPF_MAP_LOOKUP_ELEM
// of the same map, same value (bench/c/array_lookup.c on the inherited fd).
// Runs alternate C, JS, C, … and each side keeps its best.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BenchError, check, compileC, dist, fmt, nowNs, ROOT } from './util.js';

const OPS_C = 20_000;
const OPS_JS = 2_000_000;
const RUNS = 9;
const TARGET = 20;

function runC(binary, fd, valueSize, offset) {
  const r = spawnSync(binary, [valueSize, offset, OPS_C, 2].map(String), {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe', fd],
  });
  if (r.status !== 0) throw new BenchError(`${binary} exited ${r.status}: ${r.stderr?.trim()}`);
  return JSON.parse(r.stdout);
}

function timeView(globals, ops, expect) {
  let ok = 0;
  const t0 = nowNs();
  for (let i = 0; i < ops; i++) if (globals.hits[0] === expect) ok++;
  const ns = (nowNs() - t0) / ops;
  if (ok !== ops) throw new BenchError(`globals.hits[0] read back wrong (${ok} of ${ops})`);
  return ns;
}

export async function globalsRead() {
  const binary = compileC('array_lookup');
  const { loadObject } = await dist('collection.js');
  const c = loadObject(join(ROOT, 'fixtures', 'globals.o'));
  try {
    const p = c.program('xdp_globals');
    // The program writes the counter; both sides then read that value.
    const frame = Buffer.alloc(64);
    p.testRun(frame, { repeat: 3 });
    const g = c.globals;
    const expect = g.hits[0];
    check(expect === 3n, `.bss hits[0] is ${expect} after 3 test runs, expected 3`);
    const bss = c.map('.bss');
    const info = c.globalVariables().find((v) => v.name === 'hits');
    check(info?.section === '.bss', 'globals.o: hits is not in .bss');
    timeView(g, 200_000, expect); // warm-up
    let bestC = Infinity;
    let bestJs = Infinity;
    for (let r = 0; r < RUNS; r++) {
      const res = runC(binary, bss.fd.value, bss.valueSize, info.offset);
      check(res.sink > 0, 'C baseline read zeros');
      bestC = Math.min(bestC, res.lookupNs);
      bestJs = Math.min(bestJs, timeView(g, OPS_JS, expect));
    }
    const speedup = bestC / bestJs;
    const label = 'global u64 read (.bss via mmap)';
    return [
      {
        name: label,
        line: `${label}: globals.hits[0] ${fmt.ns(bestJs)} ns/read, C BPF_MAP_LOOKUP_ELEM ${fmt.ns(bestC)} ns/read; ${speedup.toFixed(1)}x faster than C`,
        checks: [{ value: `${speedup.toFixed(1)}x C`, target: `>= ${TARGET}x faster than C`, pass: speedup >= TARGET }],
      },
    ];
  } finally {
    c.close();
  }
}
