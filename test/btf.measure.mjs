// Not a test: times parsing /sys/kernel/btf/vmlinux and reports heap growth.
// Build first, then run with GC exposed so heap numbers are meaningful:
//   npx tsc -p tsconfig.json --outDir /tmp/bpf-ts-dist && \
//   node --expose-gc test/btf.measure.mjs /tmp/bpf-ts-dist
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const dist = process.argv[2] ?? new URL('../dist', import.meta.url).pathname;
const { parseBtf } = await import(`${dist}/btf/btf.js`);
const path = process.argv[3] ?? '/sys/kernel/btf/vmlinux';
const bytes = new Uint8Array(readFileSync(path));
const gc = globalThis.gc ?? (() => {});

gc();
const heap0 = process.memoryUsage().heapUsed;
const t0 = performance.now();
const btf = parseBtf(bytes, { source: path });
const t1 = performance.now();
const task = btf.findByName('task_struct', 'struct');
const t2 = performance.now();
const iphdr = btf.resolveSize(btf.findByName('iphdr', 'struct').id);
const t3 = performance.now();
gc();
const heapLookup = process.memoryUsage().heapUsed;
let decoded = 0;
for (let id = 1; id < btf.count; id++) if (btf.typeById(id)) decoded++;
const t4 = performance.now();
gc();
const heap1 = process.memoryUsage().heapUsed;

console.log(`${path}: ${bytes.length} bytes, ${btf.count} type ids`);
console.log(`parse (index):            ${(t1 - t0).toFixed(1)} ms`);
console.log(`first findByName (+index): ${(t2 - t1).toFixed(1)} ms  -> [${task.id}] ${task.kind} ${task.name}`);
console.log(`second lookup+resolveSize: ${(t3 - t2).toFixed(2)} ms  -> iphdr ${iphdr} bytes`);
console.log(`heap after parse + lookups (excl. input bytes): ${((heapLookup - heap0) / 1e6).toFixed(1)} MB`);
console.log(`decode all ${decoded} types:   ${(t4 - t3).toFixed(1)} ms`);
console.log(`heap after decoding all (excl. input bytes): ${((heap1 - heap0) / 1e6).toFixed(1)} MB`);
