// Global data (.bss/.data/.rodata) and BPF_F_MMAPABLE arrays read and written
// through mmap: what the program writes (BPF_PROG_TEST_RUN) is seen through
// the view and the reverse, with no syscall in between (every ffi call is
// counted), and views turn into CLOSED errors, never a crash, after close().
import { readFileSync } from 'node:fs';
import { beforeEach, expect, it, vi } from 'vitest';

// Count every call into the FFI layer: a read through a view must make none.
const calls = vi.hoisted(() => ({ n: 0 }));
vi.mock('../../src/sys/ffi.js', async (importOriginal) => {
  const real = await importOriginal<Record<string, unknown>>();
  const wrapped: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(real)) {
    wrapped[k] =
      typeof v === 'function'
        ? (...args: unknown[]) => {
            calls.n++;
            return (v as (...a: unknown[]) => unknown)(...args);
          }
        : v;
  }
  return wrapped;
});

import { loadObject, openObject } from '../../src/collection.js';
import { BpfMap } from '../../src/maps/map.js';
import { readU64 } from '../../src/maps/codec.js';
import { BPF_MAP_TYPE } from '../../src/uapi/bpf.js';
import { udp } from '../helpers/packets.js';
import { describeRoot } from '../helpers/root.js';
import { thrown } from '../helpers/thrown.js';

/** Mappings of BPF maps in this process (the kernel names them anon_inode:bpf-map). */
const bpfMappings = () =>
  readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes('bpf-map')).length;

const XDP_PASS = 2;
const XDP_DROP = 1;

describeRoot('global data and mmapable arrays through mmap', () => {
  beforeEach(() => {
    calls.n = 0;
  });

  it('the program’s writes to .data/.bss are seen through globals with no syscall, and ours by the program', () => {
    using c = loadObject('fixtures/globals.o');
    const p = c.program('xdp_globals');
    const g = c.globals;
    expect(Object.keys(g).sort()).toEqual(['drop_port', 'hits', 'seen_total', 'verbose']);
    expect(g.seen_total).toBe(7n); // .data initial value from the ELF
    expect(g.hits.length).toBe(4);

    expect(p.testRun(udp({ dport: 9 }), { repeat: 3 }).retval).toBe(XDP_PASS);
    const before = calls.n;
    expect(g.seen_total).toBe(10n);
    expect(g.hits[0]).toBe(3n);
    expect([...g.hits]).toEqual([3n, 0n, 0n, 0n]);
    expect(calls.n).toBe(before); // no ffi call: the reads came from the mapping

    // Written through the view: the program increments what we wrote.
    g.seen_total += 1000n;
    g.hits[0] = 100n;
    expect(calls.n).toBe(before);
    p.testRun(udp({ dport: 9 }));
    expect(g.seen_total).toBe(1011n);
    expect(g.hits[0]).toBe(101n);
    // The kernel agrees (a syscall lookup of the same values).
    expect(readU64(c.map('.data').get(0) as Buffer)).toBe(1011n);
    expect(readU64(c.map('.bss').get(0) as Buffer, 0)).toBe(101n);
  });

  it('.rodata reads what setGlobal wrote before load, the program acts on it, and writing it is READ_ONLY', () => {
    using c = openObject('fixtures/globals.o').setGlobal('drop_port', 53).load();
    const g = c.globals;
    expect(g.drop_port).toBe(53);
    expect(g.verbose).toBe(0);
    expect(c.program('xdp_globals').testRun(udp({ dport: 53 })).retval).toBe(XDP_DROP);
    expect(g.hits[1]).toBe(1n);
    const e = thrown(() => {
      g.drop_port = 80;
    });
    expect(e.code).toBe('READ_ONLY');
    expect(e.message).toMatch(/drop_port.*\.rodata.*setGlobal/);
    expect(g.drop_port).toBe(53);
    const info = c.globalVariables().find((v) => v.name === 'drop_port');
    expect(info).toMatchObject({ section: '.rodata', offset: 0, size: 4, readOnly: true, layout: { kind: 'int', size: 4, signed: false } });
  });

  it('values that do not fit a global are VALUE_SIZE errors; writable scalar arrays are typed arrays', () => {
    using c = loadObject('fixtures/globals.o');
    const g = c.globals;
    expect(thrown(() => (g.seen_total = -1n)).code).toBe('VALUE_SIZE');
    expect(thrown(() => (g.seen_total = 1n << 64n)).code).toBe('VALUE_SIZE');
    // A u64 array in a writable section is a BigUint64Array over the mapping.
    expect(g.hits).toBeInstanceOf(BigUint64Array);
    expect(g.hits[4]).toBeUndefined();
    g.seen_total = 2 ** 53 - 1; // a safe integer is accepted for a u64
    expect(g.seen_total).toBe(2n ** 53n - 1n);
  });

  it('globals and views throw CLOSED after close(), never crash; the kernel map is released', () => {
    const c = loadObject('fixtures/globals.o');
    const g = c.globals;
    const hits = g.hits;
    const bss = c.map('.bss');
    const view = bss.view();
    const mapped = bpfMappings();
    expect(mapped).toBeGreaterThanOrEqual(3); // .rodata, .data, .bss
    c.close();
    expect(thrown(() => g.seen_total).code).toBe('CLOSED');
    expect(thrown(() => g.hits).code).toBe('CLOSED');
    // A typed array kept past close() is over anonymous zero pages now: it reads 0 and cannot crash.
    expect(hits[0]).toBe(0n);
    hits[0] = 1n;
    expect(thrown(() => view.get(0)).code).toBe('CLOSED');
    expect(thrown(() => view.set(0, 1n)).code).toBe('CLOSED');
    expect(view.valid).toBe(false);
    expect(thrown(() => c.globals).code).toBe('CLOSED');
    // The map pages were swapped for anonymous memory: no mapping holds the maps any more.
    expect(bpfMappings()).toBe(mapped - 3);
  });

  it('map.view() of a BPF_F_MMAPABLE array: program writes seen, our writes used by the program, no syscall', () => {
    using c = loadObject('fixtures/mmap_array.o');
    const m = c.map('counters');
    const p = c.program('xdp_mmap_count');
    const v = m.view();
    expect(v.length).toBe(8);
    expect(v.valueSize).toBe(8);
    p.testRun(udp({ dport: 9 }), { repeat: 5 });
    const before = calls.n;
    expect(v.get(0)).toBe(5n); // counters[0] += 1 per run
    v.set(1, 10n); // step
    expect(calls.n).toBe(before);
    p.testRun(udp({ dport: 9 }), { repeat: 2 });
    expect(v.get(0)).toBe(25n);
    expect(readU64(m.get(0) as Buffer)).toBe(25n);
    expect(readU64(m.get(1) as Buffer)).toBe(10n);
    expect([...v]).toEqual([25n, 10n, 0n, 0n, 0n, 0n, 0n, 0n]);
  });

  it('view() on a map without BPF_F_MMAPABLE is NOT_MMAPABLE; a frozen mmapable array views read-only', () => {
    using plain = BpfMap.create({ name: 'view_plain', type: BPF_MAP_TYPE.ARRAY, keySize: 4, valueSize: 4, maxEntries: 4 });
    const e = thrown(() => plain.view());
    expect(e.code).toBe('NOT_MMAPABLE');
    expect(e.message).toMatch(/BPF_F_MMAPABLE/);
    using frozen = BpfMap.create({ name: 'view_frozen', type: BPF_MAP_TYPE.ARRAY, keySize: 4, valueSize: 4, maxEntries: 4, flags: 1 << 10 });
    frozen.set(2, 77);
    frozen.freeze();
    const v = frozen.view();
    expect(v.get(2)).toBe(77);
    expect(thrown(() => v.set(2, 1)).code).toBe('READ_ONLY');
  });
});
