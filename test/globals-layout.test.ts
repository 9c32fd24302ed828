// collection.globals without a kernel: layouts from hand-built BTF, and the
// accessors over plain memory standing in for a data map's mmap (the kernel
// path is test/kernel/globals.test.ts).
import { describe, expect, it } from 'vitest';
import { BpfError } from '../src/errors.js';
import { buildGlobals, layoutOf } from '../src/maps/globals.js';
import type { MapMemory } from '../src/maps/memory.js';
import { parseBtf } from '../src/btf/btf.js';
import { BtfBuilder } from './helpers/btf-builder.js';
import { thrown } from './helpers/thrown.js';

// A stand-in for MapMemory over ordinary memory: only what the accessors use.
function memory(size: number, readOnly: boolean) {
  const state = { valid: true };
  const m = {
    buffer: new ArrayBuffer(size),
    size,
    readOnly,
    get valid() {
      return state.valid;
    },
    closedError: () => new BpfError('CLOSED', 'map ".x" is closed'),
    readOnlyError: (w: string) => new BpfError('READ_ONLY', `${w} is read-only`),
  };
  return { m: m as unknown as MapMemory, close: () => (state.valid = false), bytes: new DataView(m.buffer) };
}

// struct cfg { u16 port; s8 delta; _Bool on; u32 pad_bits:3; }; s32 limits[3]; u64 total; double ratio;
function types() {
  const b = new BtfBuilder();
  const u16 = b.int('unsigned short', 2);
  const s8 = b.int('signed char', 1, { signed: true });
  const bool = b.int('_Bool', 1, { bool: true });
  const u32 = b.int('unsigned int', 4);
  const s32 = b.int('int', 4, { signed: true });
  const u64 = b.int('unsigned long long', 8);
  const dbl = b.float('double', 8);
  const cfg = b.composite('struct', 'cfg', 8, [
    { name: 'port', type: u16, bitOffset: 0 },
    { name: 'delta', type: s8, bitOffset: 16 },
    { name: 'on', type: bool, bitOffset: 24 },
    { name: 'pad_bits', type: u32, bitOffset: 32, bitfieldSize: 3 },
  ]);
  const limits = b.array(s32, u32, 3);
  const cv = b.ref('const', b.ref('volatile', u64));
  const bools = b.array(bool, u32, 2);
  const btf = parseBtf(b.build(), { littleEndian: true, source: 'test' });
  return { btf, cfg, limits, cv, dbl, bools };
}

describe('global layouts from BTF', () => {
  it('follows qualifiers and describes ints, bools, floats, arrays and structs (bitfields left out)', () => {
    const { btf, cfg, limits, cv, dbl } = types();
    expect(layoutOf(btf, cv, 8)).toEqual({ kind: 'int', size: 8, signed: false });
    expect(layoutOf(btf, dbl, 8)).toEqual({ kind: 'float', size: 8 });
    expect(layoutOf(btf, limits, 12)).toEqual({ kind: 'array', length: 3, stride: 4, element: { kind: 'int', size: 4, signed: true } });
    expect(layoutOf(btf, cfg, 8)).toEqual({
      kind: 'struct',
      size: 8,
      members: [
        { name: 'port', offset: 0, layout: { kind: 'int', size: 2, signed: false } },
        { name: 'delta', offset: 2, layout: { kind: 'int', size: 1, signed: true } },
        { name: 'on', offset: 3, layout: { kind: 'bool' } },
      ],
    });
    // No BTF: by size.
    expect(layoutOf(null, 0, 4)).toEqual({ kind: 'int', size: 4, signed: false });
    expect(layoutOf(null, 0, 12)).toEqual({ kind: 'bytes', size: 12 });
  });
});

describe('global accessors over memory', () => {
  const vars = (t: ReturnType<typeof types>) => [
    { name: 'cfg', offset: 0, size: 8, btfTypeId: t.cfg },
    { name: 'limits', offset: 8, size: 12, btfTypeId: t.limits },
    { name: 'total', offset: 24, size: 8, btfTypeId: t.cv },
    { name: 'ratio', offset: 32, size: 8, btfTypeId: t.dbl },
    { name: 'flags', offset: 40, size: 2, btfTypeId: t.bools },
  ];

  it('reads and writes each kind at its offset in host byte order', () => {
    const t = types();
    const { m, bytes } = memory(48, false);
    const { globals: g, info } = buildGlobals([{ section: '.data', memory: m, variables: vars(t) }], t.btf);
    expect(info.map((v) => [v.name, v.offset, v.readOnly])).toEqual([
      ['cfg', 0, false],
      ['limits', 8, false],
      ['total', 24, false],
      ['ratio', 32, false],
      ['flags', 40, false],
    ]);
    g.cfg.port = 8080;
    g.cfg.delta = -3;
    g.cfg.on = true;
    g.limits[2] = -7;
    g.total += 5n;
    g.ratio = 0.5;
    g.flags[1] = true;
    expect(bytes.getUint16(0, true)).toBe(8080);
    expect(bytes.getInt8(2)).toBe(-3);
    expect(bytes.getUint8(3)).toBe(1);
    expect(bytes.getInt32(16, true)).toBe(-7);
    expect(bytes.getBigUint64(24, true)).toBe(5n);
    expect(bytes.getFloat64(32, true)).toBe(0.5);
    expect(bytes.getUint8(41)).toBe(1);
    expect(g.limits).toBeInstanceOf(Int32Array);
    expect([...g.limits]).toEqual([0, 0, -7]);
    expect([...g.flags]).toEqual([false, true]);
    expect(g.cfg.on).toBe(true);
    expect(thrown(() => (g.cfg.port = 70000)).code).toBe('VALUE_SIZE');
    expect(thrown(() => (g.cfg.delta = 128)).code).toBe('VALUE_SIZE');
    expect(thrown(() => (g.total = -1n)).code).toBe('VALUE_SIZE');
    expect(thrown(() => (g.flags[0] = 2)).code).toBe('VALUE_SIZE');
    expect(thrown(() => g.flags[2]).code).toBe('KEY_SIZE');
    expect(thrown(() => (g.cfg = {})).code).toBe('USAGE');
  });

  it('a read-only section reads through checked arrays, refuses writes, and everything throws CLOSED after close', () => {
    const t = types();
    const { m, bytes, close } = memory(48, true);
    bytes.setInt32(12, 42, true);
    const { globals: g } = buildGlobals([{ section: '.rodata', memory: m, variables: vars(t) }], t.btf);
    expect(g.limits).not.toBeInstanceOf(Int32Array);
    expect(g.limits[1]).toBe(42);
    expect(g.limits.length).toBe(3);
    expect(thrown(() => (g.limits[1] = 1)).code).toBe('READ_ONLY');
    expect(thrown(() => (g.total = 1n)).message).toMatch(/\.rodata.*setGlobal\('total'/);
    expect(thrown(() => g.limits[3]).code).toBe('KEY_SIZE');
    const limits = g.limits;
    const cfg = g.cfg;
    close();
    expect(thrown(() => g.total).code).toBe('CLOSED');
    expect(thrown(() => limits[0]).code).toBe('CLOSED');
    expect(thrown(() => cfg.port).code).toBe('CLOSED');
  });
});
