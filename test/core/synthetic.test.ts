// CO-RE resolution on hand-built BTF: one corner of libbpf's matching rules
// per test (flavours, anonymous members, arrays, ambiguity, kind and size
// changes, enums, type relocations, module BTF), with expected values
// computed from the layouts written here.
import { describe, expect, it } from 'vitest';
import { BpfError } from '../../src/errors.js';
import { type Btf, parseBtf } from '../../src/btf/btf.js';
import {
  BPF_CORE_ENUMVAL_EXISTS,
  BPF_CORE_ENUMVAL_VALUE,
  BPF_CORE_FIELD_BYTE_OFFSET,
  BPF_CORE_FIELD_BYTE_SIZE,
  BPF_CORE_FIELD_EXISTS,
  BPF_CORE_FIELD_LSHIFT_U64,
  BPF_CORE_FIELD_RSHIFT_U64,
  BPF_CORE_FIELD_SIGNED,
  BPF_CORE_TYPE_EXISTS,
  BPF_CORE_TYPE_ID_LOCAL,
  BPF_CORE_TYPE_ID_TARGET,
  BPF_CORE_TYPE_MATCHES,
  BPF_CORE_TYPE_SIZE,
  CoreResolver,
  type CoreTarget,
  essentialName,
} from '../../src/object/core/index.js';
import { BtfBuilder } from '../helpers/btf-builder.js';

const parse = (b: BtfBuilder, base?: Btf): Btf => parseBtf(b.build(), { base });

/** Resolve one relocation of `local` type `typeId` against `target`. */
function resolve(local: Btf, target: Btf | CoreTarget, typeId: number, accessStr: string, kind: number, littleEndian = true) {
  const t: CoreTarget = 'vmlinux' in target ? target : { vmlinux: target };
  return new CoreResolver(local, t, { littleEndian }).resolve({ typeId, accessStr, kind });
}

describe('flavours', () => {
  it('essentialName drops the last ___suffix only when it is a real separator', () => {
    expect(essentialName('task_struct___v2')).toBe('task_struct');
    expect(essentialName('a___b___c')).toBe('a___b');
    expect(essentialName('task_struct')).toBe('task_struct');
    expect(essentialName('foo____bar')).toBe('foo____bar'); // four underscores: no X___Y
    expect(essentialName('___x')).toBe('___x');
    expect(essentialName('x___')).toBe('x___');
  });

  it('a ___v2 local type matches the kernel type by its essential name', () => {
    const l = new BtfBuilder();
    const li = l.int('int', 4, { signed: true });
    const lfoo = l.composite('struct', 'foo___v2', 4, [{ name: 'b', type: li, bitOffset: 0 }]);
    const t = new BtfBuilder();
    const ti = t.int('int', 4, { signed: true });
    const tfoo = t.composite('struct', 'foo', 8, [
      { name: 'a', type: ti, bitOffset: 0 },
      { name: 'b', type: ti, bitOffset: 32 },
    ]);
    const r = resolve(parse(l), parse(t), lfoo, '0:0', BPF_CORE_FIELD_BYTE_OFFSET);
    expect(r).toMatchObject({ localValue: 0n, targetValue: 4n, poison: false, local: 'struct foo___v2.b' });
    expect(r.target?.typeId).toBe(tfoo);
    expect(r.target?.description).toBe('struct foo.b');
  });
});

describe('field paths', () => {
  it('finds a member through anonymous structs and unions the local type does not have', () => {
    // target: struct bar { int x; union { struct { int a; int y; }; long z; }; }
    const t = new BtfBuilder();
    const ti = t.int('int', 4, { signed: true });
    const tl = t.int('long', 8, { signed: true });
    const inner = t.composite('struct', '', 8, [
      { name: 'a', type: ti, bitOffset: 0 },
      { name: 'y', type: ti, bitOffset: 32 },
    ]);
    const un = t.composite('union', '', 8, [
      { name: '', type: inner, bitOffset: 0 },
      { name: 'z', type: tl, bitOffset: 0 },
    ]);
    t.composite('struct', 'bar', 16, [
      { name: 'x', type: ti, bitOffset: 0 },
      { name: '', type: un, bitOffset: 64 }, // aligned to 8
    ]);
    const l = new BtfBuilder();
    const li = l.int('int', 4, { signed: true });
    const lbar = l.composite('struct', 'bar', 4, [{ name: 'y', type: li, bitOffset: 0 }]);
    const r = resolve(parse(l), parse(t), lbar, '0:0', BPF_CORE_FIELD_BYTE_OFFSET);
    expect(r.targetValue).toBe(12n); // 8 (union) + 4 (y in the inner struct)
    expect(r.targetSize).toBe(4);
  });

  it('array element access keeps the index; out of bounds in the target poisons', () => {
    const mk = (pad: number, n: number) => {
      const b = new BtfBuilder();
      const i = b.int('int', 4, { signed: true });
      const arr = b.array(i, i, n);
      const members = pad ? [{ name: 'pad', type: b.int('long', 8, { signed: true }), bitOffset: 0 }] : [];
      members.push({ name: 'arr', type: arr, bitOffset: pad * 8 });
      const s = b.composite('struct', 's', pad + 4 * n, members);
      return { btf: parse(b), s };
    };
    const local = mk(0, 4);
    const target = mk(8, 4);
    // s.arr[2]: 8 bytes into the array.
    const r = resolve(local.btf, target.btf, local.s, '0:0:2', BPF_CORE_FIELD_BYTE_OFFSET);
    expect(r).toMatchObject({ localValue: 8n, targetValue: 16n, localSize: 4, targetSize: 4 });
    expect(resolve(local.btf, target.btf, local.s, '0:0:2', BPF_CORE_FIELD_BYTE_SIZE).targetValue).toBe(4n);
    const short = mk(8, 2);
    const miss = resolve(local.btf, short.btf, local.s, '0:0:2', BPF_CORE_FIELD_BYTE_OFFSET);
    expect(miss.poison).toBe(true);
    expect(miss.reason).toBe("arr[2]: index past the end of the kernel's array");
    expect(resolve(local.btf, short.btf, local.s, '0:0:2', BPF_CORE_FIELD_EXISTS)).toMatchObject({ targetValue: 0n, poison: false });
  });

  it('a flexible array member (last, zero-length) accepts any index', () => {
    const b = new BtfBuilder();
    const i = b.int('int', 4, { signed: true });
    const flex = b.array(i, i, 0);
    const s = b.composite('struct', 'msg', 4, [
      { name: 'len', type: i, bitOffset: 0 },
      { name: 'data', type: flex, bitOffset: 32 },
    ]);
    const btf = parse(b);
    expect(resolve(btf, btf, s, '0:1:10', BPF_CORE_FIELD_BYTE_OFFSET).targetValue).toBe(4n + 40n);
  });

  it('a root index steps over whole objects (&p[1].b)', () => {
    const b = new BtfBuilder();
    const i = b.int('int', 4, { signed: true });
    const s = b.composite('struct', 'pair', 8, [
      { name: 'a', type: i, bitOffset: 0 },
      { name: 'b', type: i, bitOffset: 32 },
    ]);
    const btf = parse(b);
    expect(resolve(btf, btf, s, '1:1', BPF_CORE_FIELD_BYTE_OFFSET)).toMatchObject({ targetValue: 12n, local: 'struct pair[1].b' });
  });

  it('malformed access strings and out-of-range members are errors, not poison', () => {
    const b = new BtfBuilder();
    const i = b.int('int', 4, { signed: true });
    const s = b.composite('struct', 's', 4, [{ name: 'a', type: i, bitOffset: 0 }]);
    const btf = parse(b);
    expect(() => resolve(btf, btf, s, '0:x', BPF_CORE_FIELD_BYTE_OFFSET)).toThrow(/malformed access string/);
    expect(() => resolve(btf, btf, s, '0:5', BPF_CORE_FIELD_BYTE_OFFSET)).toThrow(/has no member #5/);
    expect(() => resolve(btf, btf, s, '0:0', BPF_CORE_TYPE_EXISTS)).toThrow(/access string "0"/);
    expect(() => resolve(btf, btf, s, '0:0:0', BPF_CORE_FIELD_BYTE_OFFSET)).toThrow(/no members or elements/);
    expect(() => resolve(btf, btf, s, '0:0', 99)).toThrow(BpfError);
  });
});

describe('candidates', () => {
  function twoFoos(secondOffset: number) {
    const t = new BtfBuilder();
    const ti = t.int('int', 4, { signed: true });
    t.composite('struct', 'foo', 8, [{ name: 'x', type: ti, bitOffset: 0 }]);
    t.composite('struct', 'foo', 8, [{ name: 'x', type: ti, bitOffset: secondOffset }]);
    const l = new BtfBuilder();
    const li = l.int('int', 4, { signed: true });
    const lfoo = l.composite('struct', 'foo', 4, [{ name: 'x', type: li, bitOffset: 0 }]);
    return { local: parse(l), target: parse(t), lfoo };
  }

  it('several candidates that agree are fine', () => {
    const { local, target, lfoo } = twoFoos(0);
    expect(resolve(local, target, lfoo, '0:0', BPF_CORE_FIELD_BYTE_OFFSET).targetValue).toBe(0n);
  });

  it('several candidates that disagree are an ambiguity error', () => {
    const { local, target, lfoo } = twoFoos(32);
    expect(() => resolve(local, target, lfoo, '0:0', BPF_CORE_FIELD_BYTE_OFFSET)).toThrow(/ambiguous.*different offsets/);
  });

  it('a candidate without the field is skipped when another has it', () => {
    const t = new BtfBuilder();
    const ti = t.int('int', 4, { signed: true });
    t.composite('struct', 'foo', 4, [{ name: 'other', type: ti, bitOffset: 0 }]);
    t.composite('struct', 'foo', 8, [{ name: 'x', type: ti, bitOffset: 32 }]);
    const l = new BtfBuilder();
    const lfoo = l.composite('struct', 'foo', 4, [{ name: 'x', type: l.int('int', 4, { signed: true }), bitOffset: 0 }]);
    expect(resolve(parse(l), parse(t), lfoo, '0:0', BPF_CORE_FIELD_BYTE_OFFSET).targetValue).toBe(4n);
  });

  it('kind mismatch: a local struct never matches a target union of the same name', () => {
    const t = new BtfBuilder();
    const ti = t.int('int', 4, { signed: true });
    t.composite('union', 'foo', 4, [{ name: 'x', type: ti, bitOffset: 0 }]);
    const l = new BtfBuilder();
    const lfoo = l.composite('struct', 'foo', 4, [{ name: 'x', type: l.int('int', 4, { signed: true }), bitOffset: 0 }]);
    const r = resolve(parse(l), parse(t), lfoo, '0:0', BPF_CORE_FIELD_BYTE_OFFSET);
    expect(r).toMatchObject({ poison: true, target: null, reason: 'no struct foo in kernel BTF' });
  });

  it('a field whose kind changed (pointer -> int) is incompatible and poisons', () => {
    const t = new BtfBuilder();
    const ti = t.int('int', 4, { signed: true });
    t.composite('struct', 'foo', 4, [{ name: 'p', type: ti, bitOffset: 0 }]);
    const l = new BtfBuilder();
    const li = l.int('int', 4, { signed: true });
    const lp = l.ref('ptr', li);
    const lfoo = l.composite('struct', 'foo', 8, [{ name: 'p', type: lp, bitOffset: 0 }]);
    const r = resolve(parse(l), parse(t), lfoo, '0:0', BPF_CORE_FIELD_BYTE_OFFSET);
    expect(r.poison).toBe(true);
    expect(r.reason).toBe('field p has an incompatible type in kernel BTF');
  });

  it('module BTF is searched only when vmlinux has no candidate', () => {
    const base = new BtfBuilder();
    const bi = base.int('int', 4, { signed: true });
    base.composite('struct', 'in_vmlinux', 4, [{ name: 'a', type: bi, bitOffset: 0 }]);
    const vmlinux = parse(base);
    const mod = new BtfBuilder({ count: vmlinux.count, strLen: base.strLen });
    mod.composite('struct', 'nf_conn_thing', 12, [{ name: 'mark', type: bi, bitOffset: 64 }]);
    const module = parse(mod, vmlinux);
    let asked = 0;
    const target: CoreTarget = {
      vmlinux,
      *modules() {
        asked++;
        yield module;
      },
    };
    const l = new BtfBuilder();
    const li = l.int('int', 4, { signed: true });
    const lthing = l.composite('struct', 'nf_conn_thing', 4, [{ name: 'mark', type: li, bitOffset: 0 }]);
    const lvm = l.composite('struct', 'in_vmlinux', 4, [{ name: 'a', type: li, bitOffset: 0 }]);
    const local = parse(l);
    const resolver = new CoreResolver(local, target);
    expect(resolver.resolve({ typeId: lvm, accessStr: '0:0', kind: BPF_CORE_FIELD_BYTE_OFFSET }).targetValue).toBe(0n);
    expect(asked).toBe(0);
    const r = resolver.resolve({ typeId: lthing, accessStr: '0:0', kind: BPF_CORE_FIELD_BYTE_OFFSET });
    expect(r.targetValue).toBe(8n);
    expect(r.target?.btf).toBe(module);
    expect(r.target?.typeId).toBeGreaterThanOrEqual(vmlinux.count);
    // Cached per name: asking again does not walk the modules again.
    resolver.resolve({ typeId: lthing, accessStr: '0:0', kind: BPF_CORE_FIELD_EXISTS });
    expect(asked).toBe(1);
  });

  it('anonymous local types cannot be relocated', () => {
    const l = new BtfBuilder();
    const anon = l.composite('struct', '', 4, [{ name: 'x', type: l.int('int', 4), bitOffset: 0 }]);
    const btf = parse(l);
    expect(() => resolve(btf, btf, anon, '0:0', BPF_CORE_FIELD_BYTE_OFFSET)).toThrow(/anonymous types cannot be relocated/);
  });
});

describe('int size changes', () => {
  function sized(localSize: number, targetSize: number, signed: boolean) {
    const l = new BtfBuilder();
    const li = l.int(`l${localSize}`, localSize, { signed });
    const ls = l.composite('struct', 'stats', 16, [{ name: 'count', type: li, bitOffset: 64 }]);
    const t = new BtfBuilder();
    const ti = t.int(`t${targetSize}`, targetSize, { signed });
    t.composite('struct', 'stats', 16, [{ name: 'count', type: ti, bitOffset: 0 }]);
    return resolve(parse(l), parse(t), ls, '0:0', BPF_CORE_FIELD_BYTE_OFFSET);
  }

  it('an unsigned field that grew from 4 to 8 bytes relocates with the new load width', () => {
    const r = sized(4, 8, false);
    expect(r).toMatchObject({ localValue: 8n, targetValue: 0n, localSize: 4, targetSize: 8, failMemszAdjust: false, poison: false });
  });

  it('a signed field that changed size cannot be loaded at another width', () => {
    const r = sized(4, 8, true);
    expect(r.failMemszAdjust).toBe(true);
    expect(r.reason).toMatch(/count is 8 bytes in kernel BTF but 4 in the program/);
  });

  it('byte size follows the target', () => {
    const l = new BtfBuilder();
    const ls = l.composite('struct', 'stats', 4, [{ name: 'count', type: l.int('u32', 4), bitOffset: 0 }]);
    const t = new BtfBuilder();
    t.composite('struct', 'stats', 8, [{ name: 'count', type: t.int('u64', 8), bitOffset: 0 }]);
    expect(resolve(parse(l), parse(t), ls, '0:0', BPF_CORE_FIELD_BYTE_SIZE)).toMatchObject({ localValue: 4n, targetValue: 8n });
  });
});

describe('bitfields', () => {
  // struct flags { u32 a:3; u32 b:9; s32 c:20 } : a at bit 0, b at 3, c at 12.
  function flags() {
    const b = new BtfBuilder();
    const u = b.int('unsigned int', 4);
    const s = b.int('int', 4, { signed: true });
    const f = b.composite('struct', 'flags', 4, [
      { name: 'a', type: u, bitOffset: 0, bitfieldSize: 3 },
      { name: 'b', type: u, bitOffset: 3, bitfieldSize: 9 },
      { name: 'c', type: s, bitOffset: 12, bitfieldSize: 20 },
    ]);
    return { btf: parse(b), f };
  }

  it('little-endian: offset/size of the covering load and the shifts that extract the bits', () => {
    const { btf, f } = flags();
    const v = (acc: string, kind: number) => resolve(btf, btf, f, acc, kind).targetValue;
    expect(v('0:1', BPF_CORE_FIELD_BYTE_OFFSET)).toBe(0n);
    expect(v('0:1', BPF_CORE_FIELD_BYTE_SIZE)).toBe(4n);
    expect(v('0:1', BPF_CORE_FIELD_LSHIFT_U64)).toBe(BigInt(64 - (3 + 9)));
    expect(v('0:1', BPF_CORE_FIELD_RSHIFT_U64)).toBe(BigInt(64 - 9));
    expect(v('0:1', BPF_CORE_FIELD_SIGNED)).toBe(0n);
    expect(v('0:2', BPF_CORE_FIELD_SIGNED)).toBe(1n);
    expect(v('0:2', BPF_CORE_FIELD_LSHIFT_U64)).toBe(BigInt(64 - (12 + 20)));
    // Extracting with those shifts from a known word gives the field back.
    const word = (5n << 0n) | (300n << 3n) | (BigInt.asUintN(20, -7n) << 12n);
    const lsh = v('0:2', BPF_CORE_FIELD_LSHIFT_U64);
    const rsh = v('0:2', BPF_CORE_FIELD_RSHIFT_U64);
    expect(BigInt.asIntN(64, BigInt.asUintN(64, word << lsh)) >> rsh).toBe(-7n);
    const lb = v('0:1', BPF_CORE_FIELD_LSHIFT_U64);
    expect(BigInt.asUintN(64, word << lb) >> v('0:1', BPF_CORE_FIELD_RSHIFT_U64)).toBe(300n);
  });

  it('big-endian: the left shift counts from the most significant bit', () => {
    const { btf, f } = flags();
    // (8 - 4) * 8 + (3 - 0) = 35 for b; rshift is byte-order independent.
    expect(resolve(btf, btf, f, '0:1', BPF_CORE_FIELD_LSHIFT_U64, false).targetValue).toBe(35n);
    expect(resolve(btf, btf, f, '0:1', BPF_CORE_FIELD_RSHIFT_U64, false).targetValue).toBe(55n);
  });

  it('a bitfield straddling its base type grows the load', () => {
    const b = new BtfBuilder();
    const u8 = b.int('u8', 1);
    // u8 x:6 at bit 5: crosses the first byte, so a 2-byte load at 0.
    const s = b.composite('struct', 'odd', 2, [{ name: 'x', type: u8, bitOffset: 5, bitfieldSize: 6 }]);
    const btf = parse(b);
    expect(resolve(btf, btf, s, '0:0', BPF_CORE_FIELD_BYTE_SIZE).targetValue).toBe(2n);
    expect(resolve(btf, btf, s, '0:0', BPF_CORE_FIELD_BYTE_OFFSET).targetValue).toBe(0n);
    expect(resolve(btf, btf, s, '0:0', BPF_CORE_FIELD_LSHIFT_U64).targetValue).toBe(BigInt(64 - 11));
  });
});

describe('enums', () => {
  it('enumerators match by name across enum and enum64; missing ones poison ENUMVAL_VALUE and zero ENUMVAL_EXISTS', () => {
    const l = new BtfBuilder();
    const le = l.enum('color___old', 4, [
      ['RED', 1],
      ['BLUE', 2],
      ['GONE', 3],
    ]);
    const t = new BtfBuilder();
    t.enum64('color', [
      ['BLUE', 0x1_0000_0005n],
      ['RED', 7n],
    ]);
    const local = parse(l);
    const target = parse(t);
    expect(resolve(local, target, le, '1', BPF_CORE_ENUMVAL_VALUE)).toMatchObject({ localValue: 2n, targetValue: 0x1_0000_0005n, local: 'enum color___old::BLUE' });
    expect(resolve(local, target, le, '0', BPF_CORE_ENUMVAL_VALUE).targetValue).toBe(7n);
    expect(resolve(local, target, le, '1', BPF_CORE_ENUMVAL_EXISTS).targetValue).toBe(1n);
    const gone = resolve(local, target, le, '2', BPF_CORE_ENUMVAL_VALUE);
    expect(gone).toMatchObject({ poison: true, reason: 'enumerator GONE not found in kernel BTF' });
    expect(resolve(local, target, le, '2', BPF_CORE_ENUMVAL_EXISTS)).toMatchObject({ targetValue: 0n, poison: false });
    expect(() => resolve(local, target, le, '9', BPF_CORE_ENUMVAL_VALUE)).toThrow(/no enumerator #9/);
  });

  it("signed enumerators are written as their 64-bit two's complement", () => {
    const l = new BtfBuilder();
    const le = l.enum('e', 4, [['NEG', -1]], true);
    const btf = parse(l);
    expect(resolve(btf, btf, le, '0', BPF_CORE_ENUMVAL_VALUE).targetValue).toBe(0xffff_ffff_ffff_ffffn);
  });
});

describe('type relocations', () => {
  function pair() {
    const l = new BtfBuilder();
    const li = l.int('int', 4, { signed: true });
    const ls = l.composite('struct', 'thing', 4, [{ name: 'a', type: li, bitOffset: 0 }]);
    const ltd = l.ref('typedef', ls, 'thing_t');
    const lmissing = l.composite('struct', 'nowhere___local', 4, [{ name: 'a', type: li, bitOffset: 0 }]);
    const t = new BtfBuilder();
    const ti = t.int('int', 4, { signed: true });
    const tl = t.int('long', 8, { signed: true });
    const ts = t.composite('struct', 'thing', 16, [
      { name: 'b', type: tl, bitOffset: 0 },
      { name: 'a', type: ti, bitOffset: 64 },
    ]);
    const ttd = t.ref('typedef', ts, 'thing_t');
    return { local: parse(l), target: parse(t), ls, ltd, lmissing, ts, ttd };
  }

  it('exists / size / target id / local id', () => {
    const { local, target, ls, ltd, lmissing, ts, ttd } = pair();
    expect(resolve(local, target, ls, '0', BPF_CORE_TYPE_EXISTS).targetValue).toBe(1n);
    expect(resolve(local, target, ls, '0', BPF_CORE_TYPE_SIZE)).toMatchObject({ localValue: 4n, targetValue: 16n });
    expect(resolve(local, target, ls, '0', BPF_CORE_TYPE_ID_TARGET)).toMatchObject({ targetValue: BigInt(ts), validate: false });
    expect(resolve(local, target, ltd, '0', BPF_CORE_TYPE_ID_TARGET).targetValue).toBe(BigInt(ttd));
    expect(resolve(local, target, ltd, '0', BPF_CORE_TYPE_SIZE).targetValue).toBe(16n);
    expect(resolve(local, target, ls, '0', BPF_CORE_TYPE_ID_LOCAL)).toMatchObject({ localValue: BigInt(ls), targetValue: BigInt(ls) });
    // No such type: 0 for every type relocation, never poison (as libbpf).
    for (const kind of [BPF_CORE_TYPE_EXISTS, BPF_CORE_TYPE_SIZE, BPF_CORE_TYPE_ID_TARGET, BPF_CORE_TYPE_MATCHES]) {
      expect(resolve(local, target, lmissing, '0', kind)).toMatchObject({ targetValue: 0n, poison: false, target: null });
    }
  });

  it('TYPE_MATCHES: every local member must exist with a matching type; ints must agree on size and sign', () => {
    const { local, target, ls } = pair();
    expect(resolve(local, target, ls, '0', BPF_CORE_TYPE_MATCHES).targetValue).toBe(1n);
    const t2 = new BtfBuilder();
    t2.composite('struct', 'thing', 8, [{ name: 'a', type: t2.int('long', 8, { signed: true }), bitOffset: 0 }]);
    expect(resolve(local, parse(t2), ls, '0', BPF_CORE_TYPE_MATCHES).targetValue).toBe(0n);
    // …while plain compatibility only looks at the kind.
    expect(resolve(local, parse(t2), ls, '0', BPF_CORE_TYPE_EXISTS).targetValue).toBe(1n);
    const t3 = new BtfBuilder();
    t3.composite('struct', 'thing', 4, [{ name: 'other', type: t3.int('int', 4, { signed: true }), bitOffset: 0 }]);
    expect(resolve(local, parse(t3), ls, '0', BPF_CORE_TYPE_MATCHES).targetValue).toBe(0n);
  });

  it('TYPE_MATCHES behind a pointer: a struct matches a forward declaration', () => {
    const l = new BtfBuilder();
    const inner = l.composite('struct', 'inner', 4, [{ name: 'x', type: l.int('int', 4, { signed: true }), bitOffset: 0 }]);
    const lp = l.ref('ptr', inner);
    const outer = l.composite('struct', 'outer', 8, [{ name: 'p', type: lp, bitOffset: 0 }]);
    const t = new BtfBuilder();
    const fwd = t.fwd('inner');
    const tp = t.ref('ptr', fwd);
    t.composite('struct', 'outer', 8, [{ name: 'p', type: tp, bitOffset: 0 }]);
    expect(resolve(parse(l), parse(t), outer, '0', BPF_CORE_TYPE_MATCHES).targetValue).toBe(1n);
  });
});

describe('caching', () => {
  it('the same (type id, access string, kind) resolves once', () => {
    const b = new BtfBuilder();
    const s = b.composite('struct', 's', 4, [{ name: 'a', type: b.int('int', 4), bitOffset: 0 }]);
    const btf = parse(b);
    const r = new CoreResolver(btf, { vmlinux: btf });
    const a = r.resolve({ typeId: s, accessStr: '0:0', kind: BPF_CORE_FIELD_BYTE_OFFSET });
    expect(r.resolve({ typeId: s, accessStr: '0:0', kind: BPF_CORE_FIELD_BYTE_OFFSET })).toBe(a);
    expect(r.resolve({ typeId: s, accessStr: '0:0', kind: BPF_CORE_FIELD_BYTE_SIZE })).not.toBe(a);
  });
});
