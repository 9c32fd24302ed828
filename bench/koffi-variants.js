#!/usr/bin/env node
// Which way of issuing BPF_MAP_LOOKUP_ELEM through koffi 3 is cheapest?
// `node bench/koffi-variants.js [rounds]` (root; not part of `npm run bench`).
//
// The same lookup on the same hash map (u32 key, u64 value, 1024 prefilled
// keys), the attr, key and value in one native block filled once: only the
// way the call is declared and made differs. Every round runs the C baseline
// (bench/c/map_ops.c, a separate process) and then every variant once,
// in a rotating order. Each side reports the median of its per-round CPU time
// per call, and the median of its per-round ratio to variant A (the pairing
// cancels load that drifts between rounds on a shared machine). Koffi's own
// cost is shown apart: each declaration bound to abs() instead of syscall(),
// the same marshalling without a kernel entry.

import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { compileC, dist, fmt, ROOT, runC } from './util.js';

const ROUNDS = Number(process.argv[2] ?? 15);
const OPS = 20_000;
const ENTRIES = 1024;
const MASK = ENTRIES - 1;
const BPF_MAP_LOOKUP_ELEM = 1;
const SIZE = 32;
const NR = { x64: 321, arm64: 280 }[process.arch];
const NR_GETPPID = { x64: 110, arm64: 173 }[process.arch];

const cpuNs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};

const koffi = createRequire(`${ROOT}/package.json`)('koffi');
const libc = koffi.load('libc.so.6');

const { BpfMap } = await dist('maps/map.js');
const { BPF_MAP_TYPE } = await dist('uapi/bpf.js');
const ffi = await dist('sys/ffi.js');
const map = BpfMap.create({ name: 'koffi_variants', type: BPF_MAP_TYPE.HASH, keySize: 4, valueSize: 8, maxEntries: ENTRIES });
for (let k = 0; k < ENTRIES; k++) map.set(k, k * 3);

// One native block: attr at 0, key at 32, value at 40.
const ptr = koffi.alloc('uint8_t', 64);
const ab = koffi.view(ptr, 64);
const base = Number(koffi.address(ptr));
const baseBig = koffi.address(ptr);
const attrBuf = Buffer.from(ab, 0, SIZE);
const key = new Uint32Array(ab, 32, 1);
const value = new Uint32Array(ab, 40, 2);
const dv = new DataView(ab);
dv.setUint32(0, map.fd.value, true);
dv.setBigUint64(8, BigInt(base + 32), true);
dv.setBigUint64(16, BigInt(base + 40), true);

let sinkAll = 0; // keeps the values read alive

// The timed loops are compiled once per variant from distinct source text:
// loops sharing one function literal would share V8's call feedback, the call
// site would turn megamorphic, and every koffi call would then take V8's
// generic (slow) API-call path instead of the direct one a monomorphic site
// gets (measured: 20-30% of koffi's own cost).
const LOOKUP_LOOP = `
  let sink = 0;
  const c0 = cpuNs();
  for (let i = 0; i < ops; i++) {
    key[0] = i & MASK;
    if (call() !== 0) throw new Error('lookup ' + (i & MASK) + ' failed');
    sink += value[0];
  }
  return [(cpuNs() - c0) / ops, sink];`;
const PURE_LOOP = `
  let sink = 0;
  const c0 = cpuNs();
  for (let i = 0; i < ops; i++) sink += Number(call());
  return [(cpuNs() - c0) / ops, sink];`;

/** A timed loop around `call`: `body` is LOOKUP_LOOP (the lookup) or PURE_LOOP (no syscall), compiled apart for `tag`. */
function compileLoop(tag, body, call) {
  const loop = new Function('call', 'ops', 'cpuNs', 'key', 'value', 'MASK', `/* ${tag} */${body}`);
  return (ops) => {
    const [ns, sink] = loop(call, ops, cpuNs, key, value, MASK);
    sinkAll += sink;
    return ns;
  };
}

// Each variant declares the call for a libc function name: `syscall` for the
// lookup, and `abs` for the no-syscall twin (abs reads only its first integer
// argument; the others land in registers it ignores, which is call-compatible
// on the 64-bit ABIs). Every closure is its own, so V8's call sites stay
// monomorphic.
const variants = [
  {
    id: 'A',
    label: 'syscall(long, int, uintptr_t, unsigned) -> long, Number address (what bpf-ts uses)',
    make: (fn) => {
      const f = libc.func(`long ${fn}(long nr, int cmd, uintptr_t attr, unsigned int size)`);
      return () => f(NR, BPF_MAP_LOOKUP_ELEM, base, SIZE);
    },
  },
  {
    id: 'B',
    label: 'syscall(int, int, uintptr_t, int) -> int',
    make: (fn) => {
      const f = libc.func(`int ${fn}(int nr, int cmd, uintptr_t attr, int size)`);
      return () => f(NR, BPF_MAP_LOOKUP_ELEM, base, SIZE);
    },
  },
  {
    id: 'C',
    label: 'syscall(long, int, uint64_t, unsigned) -> long, BigInt address',
    make: (fn) => {
      const f = libc.func(`long ${fn}(long nr, int cmd, uint64_t attr, unsigned int size)`);
      return () => f(NR, BPF_MAP_LOOKUP_ELEM, baseBig, SIZE);
    },
  },
  {
    id: 'D',
    label: 'syscall(long, int, void *, unsigned), Buffer over koffi.view',
    make: (fn) => {
      const f = libc.func(`long ${fn}(long nr, int cmd, void *attr, unsigned int size)`);
      return () => f(NR, BPF_MAP_LOOKUP_ELEM, attrBuf, SIZE);
    },
  },
  {
    id: 'E',
    label: 'syscall(long, int, void *, unsigned), ArrayBuffer from koffi.view',
    make: (fn) => {
      const f = libc.func(`long ${fn}(long nr, int cmd, void *attr, unsigned int size)`);
      return () => f(NR, BPF_MAP_LOOKUP_ELEM, ab, SIZE);
    },
  },
  {
    id: 'F',
    label: 'syscall(long, int, void *, unsigned), koffi.alloc pointer (BigInt)',
    make: (fn) => {
      const f = libc.func(`long ${fn}(long nr, int cmd, void *attr, unsigned int size)`);
      return () => f(NR, BPF_MAP_LOOKUP_ELEM, ptr, SIZE);
    },
  },
  {
    id: 'G',
    label: 'syscall(long, int, void *, unsigned), Number address',
    make: (fn) => {
      const f = libc.func(`long ${fn}(long nr, int cmd, void *attr, unsigned int size)`);
      return () => f(NR, BPF_MAP_LOOKUP_ELEM, base, SIZE);
    },
  },
  {
    id: 'H',
    label: 'syscall(long, ...) variadic: (int, uintptr_t, unsigned) per call',
    make: (fn) => {
      const f = libc.func(`long ${fn}(long nr, ...)`);
      return () => f(NR, 'int', BPF_MAP_LOOKUP_ELEM, 'uintptr_t', base, 'unsigned int', SIZE);
    },
  },
  {
    id: 'I',
    label: "lib.func(name, 'long', [types]) classic syntax, types of A",
    make: (fn) => {
      const f = libc.func(fn, 'long', ['long', 'int', 'uintptr_t', 'unsigned int']);
      return () => f(NR, BPF_MAP_LOOKUP_ELEM, base, SIZE);
    },
  },
  {
    id: 'J',
    label: 'koffi.load(null) (the process image), types of A',
    make: (fn) => {
      const f = koffi.load(null).func(`long ${fn}(long nr, int cmd, uintptr_t attr, unsigned int size)`);
      return () => f(NR, BPF_MAP_LOOKUP_ELEM, base, SIZE);
    },
  },
  {
    id: 'K',
    label: 'koffi.call(lib.symbol(name), koffi.proto(...), ...), types of A',
    make: (fn) => {
      const proto = koffi.proto(`long Fn_${fn}(long nr, int cmd, uintptr_t attr, unsigned int size)`);
      const sym = libc.symbol(fn);
      return () => koffi.call(sym, proto, NR, BPF_MAP_LOOKUP_ELEM, base, SIZE);
    },
  },
  {
    id: 'L',
    label: 'the library: ffi.bpfAt (its declaration and wrapper)',
    make: (fn) => (fn === 'syscall' ? () => ffi.bpfAt(BPF_MAP_LOOKUP_ELEM, base, SIZE) : null),
  },
];
let bpfLib = null;
try {
  bpfLib = koffi.load('libbpf.so.1');
} catch {
  // not installed: that row is left out
}
if (bpfLib) {
  // bpf-ts uses no libbpf (by design): this row only shows what a 3-argument
  // wrapper that builds the attr in C would buy.
  variants.push({
    id: 'M',
    label: 'libbpf bpf_map_lookup_elem(int, uintptr_t, uintptr_t) -> int (information only)',
    make: (fn) => {
      if (fn !== 'syscall') return null;
      const f = bpfLib.func('int bpf_map_lookup_elem(int fd, uintptr_t key, uintptr_t value)');
      const fd = map.fd.value;
      return () => f(fd, base + 32, base + 40);
    },
  });
}

const sides = [];
for (const v of variants) {
  const real = v.make('syscall');
  if (real) sides.push({ key: v.id, run: compileLoop(`lookup ${v.id}`, LOOKUP_LOOP, real) });
  const pure = v.make('abs');
  if (pure) sides.push({ key: `${v.id}-abs`, run: compileLoop(`abs ${v.id}`, PURE_LOOP, pure) });
}

// The cheapest syscall (getppid), from koffi with 1 argument and with the
// 4-argument declaration of A (the kernel ignores the extra ones), against C.
const GETPPID_LOOP = `
  let sink = 0;
  const c0 = cpuNs();
  for (let i = 0; i < ops; i++) sink += call();
  return [(cpuNs() - c0) / ops, sink];`;
{
  const f1 = libc.func('long syscall(long nr)');
  const f4 = libc.func('long syscall(long nr, int cmd, uintptr_t attr, unsigned int size)');
  sides.push({ key: 'getppid-1', run: compileLoop('getppid 1', GETPPID_LOOP, () => f1(NR_GETPPID)) });
  sides.push({ key: 'getppid-4', run: compileLoop('getppid 4', GETPPID_LOOP, () => f4(NR_GETPPID, 1, base, SIZE)) });
}

const binary = compileC('map_ops');
const floorBinary = compileC('syscall_floor');
const samples = new Map(sides.map((v) => [v.key, []]));
const cSamples = [];
const cFloor = [];
const loads = [loadavg()[0]];

for (const v of sides) v.run(OPS); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  cSamples.push(runC(binary, [ENTRIES, OPS, 1]).lookupCpuNs);
  cFloor.push(runC(floorBinary, [OPS]).getppidCpuNs);
  for (let j = 0; j < sides.length; j++) {
    const v = sides[(j + r) % sides.length];
    samples.get(v.key).push(v.run(OPS));
  }
}
loads.push(loadavg()[0]);
map.close();

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const cMed = median(cSamples);
/** Median over rounds of the per-round ratio a/b: the pairing cancels load that drifts between rounds. */
const pairedRatio = (a, b) => median(a.map((x, i) => x / b[i]));
const ref = samples.get('A');
const refAbs = samples.get('A-abs');
console.log(`koffi ${koffi.version}, node ${process.version}, ${ROUNDS} rounds of ${OPS} calls each, CPU time; load average ${loads.map((l) => l.toFixed(2)).join(' -> ')}`);
console.log('| variant | lookup ns/call (median) | ratio to C (medians) | ratio to A (paired) | same declaration on abs(): ns/call | ratio to A on abs() (paired) |');
console.log('|---|---|---|---|---|---|');
console.log(`| C: syscall(__NR_bpf, ...) in bench/c/map_ops.c | ${fmt.ns(cMed)} | 1.00 | | | |`);
for (const v of variants) {
  const s = samples.get(v.id);
  const p = samples.get(`${v.id}-abs`);
  const cells = [s ? fmt.ns(median(s)) : '', s ? fmt.ratio(median(s) / cMed) : '', s ? fmt.ratio(pairedRatio(s, ref)) : '', p ? fmt.ns(median(p)) : '', p ? fmt.ratio(pairedRatio(p, refAbs)) : ''];
  console.log(`| ${v.id}: ${v.label} | ${cells.join(' | ')} |`);
}
const floorMed = median(cFloor);
console.log('');
console.log('| getppid (no work in the kernel) | ns/call (median) | koffi minus C |');
console.log('|---|---|---|');
console.log(`| C: syscall(SYS_getppid) (bench/c/syscall_floor.c) | ${fmt.ns(floorMed)} | |`);
for (const [k, label] of [
  ['getppid-1', 'koffi: long syscall(long) (1 argument)'],
  ['getppid-4', 'koffi: declaration A (4 arguments)'],
]) {
  const m = median(samples.get(k));
  console.log(`| ${label} | ${fmt.ns(m)} | ${fmt.ns(m - floorMed)} |`);
}
if (sinkAll === -1) console.log(''); // keeps the values read alive
