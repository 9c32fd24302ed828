// The perf reader's data_head/data_tail accessors against a concurrent writer
// (issue 9, item 4): a worker thread keeps advancing "data_head" by 32 (one
// record) with carries through every byte, as the kernel does on another
// CPU; every value the reader's load returns must be one that was written:
// a multiple of 32, never going backwards. With the DataView read the reader
// used before, this test failed 3 runs out of 3 (3 to 15 torn values in 3 M
// reads on a loaded 2-core machine); Atomics.load never tears, so it cannot
// fail spuriously.
import { Worker } from 'node:worker_threads';
import { expect, test } from 'vitest';
import { DATA_HEAD, DATA_TAIL, loadDataHead, loadDataTail, storeDataTail } from '../src/events/perf-buffer.js';

test('data_head is loaded whole while another thread advances it', async () => {
  const sab = new SharedArrayBuffer(4096);
  const meta = new BigUint64Array(sab);
  const writer = new Worker(
    `const { workerData: { sab, head } } = require('node:worker_threads');
     const m = new BigUint64Array(sab);
     Atomics.store(m, 0, 1n); // running
     for (let v = 0n; Atomics.load(m, 0) === 1n; ) { v += 32n; Atomics.store(m, head, v); }`,
    { eval: true, workerData: { sab, head: DATA_HEAD } },
  );
  try {
    while (Atomics.load(meta, 0) !== 1n) await new Promise((r) => setTimeout(r, 1));
    let prev = 0;
    let bad = 0;
    let moved = 0;
    for (let i = 0; i < 3_000_000; i++) {
      const h = loadDataHead(meta);
      if (h % 32 !== 0 || h < prev) bad++;
      if (h !== prev) moved++;
      prev = h;
    }
    expect(moved).toBeGreaterThan(0); // the writer really ran concurrently
    expect(bad).toBe(0);
  } finally {
    Atomics.store(meta, 0, 0n);
    await writer.terminate();
  }
});

test('data_tail is stored and read back whole at its offset in perf_event_mmap_page', () => {
  const meta = new BigUint64Array(512);
  storeDataTail(meta, 2 ** 40 + 0x1234_5678);
  expect(DATA_TAIL * 8).toBe(1032);
  expect(new DataView(meta.buffer).getBigUint64(1032, true)).toBe(BigInt(2 ** 40 + 0x1234_5678));
  expect(loadDataTail(meta)).toBe(2 ** 40 + 0x1234_5678);
  expect(DATA_HEAD * 8).toBe(1024);
});
