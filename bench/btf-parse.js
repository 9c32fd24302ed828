// Figure 3: parsing the running kernel's BTF (/sys/kernel/btf/vmlinux).
// The file is read first; timed are parseBtf + one findByName('task_struct',
// 'struct') + resolveSize of it. Heap growth is measured around the same
// work with a full GC before and after, while the parsed Btf is still alive.

import { readFileSync } from 'node:fs';
import { check, dist, fmt, gc, nowNs } from './util.js';

const PATH = '/sys/kernel/btf/vmlinux';
const RUNS = 5;
const TARGET_MS = 100;
const TARGET_MB = 50;

export async function btfParse() {
  let bytes;
  try {
    bytes = new Uint8Array(readFileSync(PATH));
  } catch (e) {
    return [{ name: 'vmlinux BTF parse', line: `vmlinux BTF parse: skipped (${PATH}: ${e.code ?? e.message})`, skip: `${PATH} unreadable` }];
  }
  const { parseBtf } = await dist('btf/btf.js');

  let bestMs = Infinity;
  let maxHeap = 0;
  let maxExternal = 0;
  let found;
  for (let r = 0; r < RUNS; r++) {
    gc();
    const before = process.memoryUsage();
    const t0 = nowNs();
    const btf = parseBtf(bytes, { source: PATH });
    const task = btf.findByName('task_struct', 'struct');
    const size = task === undefined ? -1 : btf.resolveSize(task.id);
    const ms = (nowNs() - t0) / 1e6;
    gc();
    const after = process.memoryUsage();
    // Still referenced here, so the GC above could not free it.
    check(task !== undefined && size > 0 && btf.count > 1, `${PATH}: task_struct not found or sizeless`);
    found = { id: task.id, size, count: btf.count };
    bestMs = Math.min(bestMs, ms);
    maxHeap = Math.max(maxHeap, (after.heapUsed - before.heapUsed) / 1e6);
    maxExternal = Math.max(maxExternal, (after.arrayBuffers - before.arrayBuffers) / 1e6);
  }
  return [
    {
      name: 'vmlinux BTF parse',
      line: `vmlinux BTF parse: ${fmt.ms(bestMs)} ms, heap +${fmt.mb(maxHeap)} MB`,
      detail:
        `${(bytes.length / 1e6).toFixed(1)} MB, ${found.count} type ids, task_struct [${found.id}] ${found.size} bytes; ` +
        `time best of ${RUNS}, heap the largest of ${RUNS} (ArrayBuffers outside the heap +${fmt.mb(maxExternal)} MB)`,
      checks: [
        { what: 'time', value: `${fmt.ms(bestMs)} ms`, target: `< ${TARGET_MS} ms`, pass: bestMs < TARGET_MS },
        { what: 'heap', value: `+${fmt.mb(maxHeap)} MB`, target: `< ${TARGET_MB} MB`, pass: maxHeap < TARGET_MB },
      ],
    },
  ];
}
