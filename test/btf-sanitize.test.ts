// sanitizeBtf: every kind an old kernel lacks is rewritten into one it has,
// type ids stay put, and the result is still valid BTF. The kernel side
// (these blobs are accepted by BPF_BTF_LOAD) is in test/core/kernel.test.ts.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type Btf, parseBtf } from '../src/btf/btf.js';
import type { BtfKindName } from '../src/btf/kinds.js';
import { formatType } from '../src/btf/format.js';
import { ALL_BTF_FEATURES, type BtfFeatures, sanitizeBtf } from '../src/btf/sanitize.js';
import { readObjectFile } from '../src/object/read.js';
import { BtfBuilder } from './helpers/btf-builder.js';

const NONE: BtfFeatures = { btfFunc: false, funcGlobal: false, datasec: false, float: false, declTag: false, typeTag: false, enum64: false };
const FORBIDDEN: BtfKindName[] = ['func', 'func_proto', 'var', 'datasec', 'float', 'decl_tag', 'type_tag', 'enum64'];

/** Every kind clang can emit, with the ids the assertions refer to. */
function everything() {
  const b = new BtfBuilder();
  const int = b.int('int', 4, { signed: true });
  const proto = b.proto(int, [
    ['ctx', int],
    ['', int],
  ]);
  const gfunc = b.func('prog', proto, 1);
  const sfunc = b.func('helper', proto, 0);
  const v1 = b.var('counter', int, 1);
  const v2 = b.var('limit', int, 1);
  const ds = b.datasec('.data', 8, [
    [v1, 0, 4],
    [v2, 4, 4],
  ]);
  const flt = b.float('double', 8);
  const tag = b.declTag('my_tag', v1, -1);
  const ttag = b.ref('type_tag', int, 'user');
  const ptr = b.ref('ptr', ttag);
  const e64 = b.enum64('big', [
    ['HUGE', 1n << 40n],
    ['SMALL', 1n],
  ]);
  const senum = b.enum('sign', 4, [['MINUS', -1]], true);
  return { bytes: b.build(), ids: { int, proto, gfunc, sfunc, v1, v2, ds, flt, tag, ttag, ptr, e64, senum } };
}

function kinds(btf: Btf): Set<BtfKindName> {
  const out = new Set<BtfKindName>();
  for (let id = 1; id < btf.count; id++) out.add(btf.kindOf(id));
  return out;
}

describe('sanitizeBtf', () => {
  it('with every feature present, returns the blob untouched', () => {
    const { bytes } = everything();
    expect(sanitizeBtf(bytes, ALL_BTF_FEATURES)).toBe(bytes);
  });

  it('with no feature present, leaves no forbidden kind and keeps every type id', () => {
    const { bytes, ids } = everything();
    const before = parseBtf(bytes);
    const out = parseBtf(sanitizeBtf(bytes, NONE));
    for (const k of FORBIDDEN) expect(kinds(out).has(k), k).toBe(false);
    // One INT appended for the ENUM64 placeholder, nothing else moves.
    expect(out.count).toBe(before.count + 1);
    for (let id = 1; id < before.count; id++) expect(out.typeById(id).id).toBe(id);

    expect(out.typeById(ids.v1)).toMatchObject({ kind: 'int', name: 'counter', size: 1, bits: 8, bitOffset: 0 });
    expect(out.typeById(ids.tag)).toMatchObject({ kind: 'int', name: 'my_tag', size: 1, bits: 8 });
    const ds = out.typeById(ids.ds);
    expect(ds).toMatchObject({ kind: 'struct', name: '_data', size: 8 });
    if (ds.kind === 'struct') {
      expect(ds.members).toEqual([
        { name: 'counter', type: ids.v1, bitOffset: 0, bitfieldSize: 0 },
        { name: 'limit', type: ids.v2, bitOffset: 32, bitfieldSize: 0 },
      ]);
    }
    const proto = out.typeById(ids.proto);
    expect(proto).toMatchObject({ kind: 'enum', size: 4 });
    // Parameters became enumerators; the unnamed one got a name.
    if (proto.kind === 'enum') expect(proto.values.map((v) => v.name)).toEqual(['ctx', 'anon_param']);
    expect(out.typeById(ids.gfunc)).toMatchObject({ kind: 'typedef', name: 'prog', type: ids.proto });
    expect(out.typeById(ids.flt)).toMatchObject({ kind: 'struct', name: '', size: 8, members: [] });
    expect(out.typeById(ids.ttag)).toMatchObject({ kind: 'const', name: '', type: ids.int });
    const e64 = out.typeById(ids.e64);
    expect(e64).toMatchObject({ kind: 'union', name: 'big', size: 8 });
    const placeholder = out.typeById(before.count);
    expect(placeholder).toMatchObject({ kind: 'int', name: 'enum64_placeholder', size: 1, bits: 8 });
    if (e64.kind === 'union') {
      expect(e64.members.map((m) => [m.name, m.type, m.bitOffset])).toEqual([
        ['HUGE', before.count, 0],
        ['SMALL', before.count, 0],
      ]);
    }
    expect(out.typeById(ids.senum)).toMatchObject({ kind: 'enum', signed: false });
    // Still prints (every reference still resolves).
    for (let id = 1; id < out.count; id++) expect(() => formatType(out, id)).not.toThrow();
  });

  it('only global FUNCs missing: they become static, nothing else changes', () => {
    const { bytes, ids } = everything();
    const out = parseBtf(sanitizeBtf(bytes, { ...ALL_BTF_FEATURES, funcGlobal: false }));
    expect(out.typeById(ids.gfunc)).toMatchObject({ kind: 'func', linkage: 'static' });
    expect(out.typeById(ids.sfunc)).toMatchObject({ kind: 'func', linkage: 'static' });
    expect(out.typeById(ids.ds).kind).toBe('datasec');
    expect(out.typeById(ids.e64).kind).toBe('enum64');
    expect(out.count).toBe(parseBtf(bytes).count);
  });

  it('one feature at a time touches only its own kinds', () => {
    const { bytes, ids } = everything();
    const only = (f: keyof BtfFeatures) => parseBtf(sanitizeBtf(bytes, { ...ALL_BTF_FEATURES, [f]: false }));
    expect(only('float').typeById(ids.flt).kind).toBe('struct');
    expect(only('float').typeById(ids.ttag).kind).toBe('type_tag');
    expect(only('typeTag').typeById(ids.ttag).kind).toBe('const');
    expect(only('declTag').typeById(ids.tag).kind).toBe('int');
    expect(only('declTag').typeById(ids.v1).kind).toBe('var');
    expect(only('enum64').typeById(ids.senum)).toMatchObject({ kind: 'enum', signed: false });
    expect(only('btfFunc').typeById(ids.sfunc).kind).toBe('typedef');
    expect(only('datasec').typeById(ids.v2).kind).toBe('int');
  });

  it('big-endian BTF is rewritten in its own byte order', () => {
    const b = new BtfBuilder();
    const int = b.int('int', 4, { signed: true });
    const v = b.var('x', int);
    const ds = b.datasec('.bss', 4, [[v, 0, 4]]);
    b.enum64('e', [['A', 1n]]);
    const out = parseBtf(sanitizeBtf(b.build(false), NONE, { littleEndian: false }));
    expect(out.littleEndian).toBe(false);
    expect(out.typeById(ds)).toMatchObject({ kind: 'struct', name: '_bss', members: [{ name: 'x', type: v, bitOffset: 0, bitfieldSize: 0 }] });
    for (const k of FORBIDDEN) expect(kinds(out).has(k)).toBe(false);
  });

  const objects = readdirSync('fixtures').filter((f) => f.endsWith('.o'));
  it(`every fixture's BTF sanitizes to valid BTF without forbidden kinds (${objects.length} objects)`, () => {
    let withBtf = 0;
    for (const f of objects) {
      const o = readObjectFile(`fixtures/${f}`);
      if (!o.btfForKernel) continue;
      withBtf++;
      const out = parseBtf(sanitizeBtf(o.btfForKernel, NONE, { littleEndian: o.littleEndian }), { littleEndian: o.littleEndian });
      for (const k of FORBIDDEN) expect(kinds(out).has(k), `${f}: ${k}`).toBe(false);
      for (let id = 1; id < out.count; id++) out.typeById(id);
    }
    expect(withBtf).toBeGreaterThan(20);
  });
});
