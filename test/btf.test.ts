import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BpfError } from '../src/errors.js';
import { BTF_KIND_ENUM64, BTF_KIND_INT, BTF_KIND_NAMES, type BtfType, parseBtf } from '../src/btf/btf.js';
import { formatRaw, formatType } from '../src/btf/format.js';
import { BtfBuilder } from './helpers/btf-builder.js';
import { elfSection } from './helpers/elf-section.js';
import { bigOutput } from './helpers/big-output.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const VMLINUX = '/sys/kernel/btf/vmlinux';

/** Every fixture object that has a bpftool oracle next to it. */
const oracles = existsSync(FIXTURES)
  ? readdirSync(FIXTURES)
      .filter((f) => f.endsWith('.btf.txt') && existsSync(FIXTURES + f.replace(/\.btf\.txt$/, '.o')))
      .map((f) => f.replace(/\.btf\.txt$/, ''))
      .sort()
  : [];

function fixtureBtf(name: string) {
  const sec = elfSection(`${FIXTURES}${name}.o`, '.BTF');
  if (!sec) throw new Error(`${name}.o has no .BTF`);
  return { ...sec, btf: parseBtf(sec.bytes, { source: `fixtures/${name}.o` }) };
}

/** Runs fn and returns the BpfError it throws (failing on anything else). */
function bpfError(fn: () => unknown): BpfError {
  try {
    fn();
  } catch (e) {
    if (e instanceof BpfError) return e;
    throw new Error(`expected BpfError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected BpfError, nothing was thrown');
}

/** Decodes and prints everything reachable, the way later layers will use it. */
function exercise(btf: ReturnType<typeof parseBtf>): void {
  for (let id = 0; id < btf.count; id++) {
    const t = btf.typeById(id);
    formatRaw(btf, id);
    formatType(btf, id);
    if (t.kind !== 'void' && t.kind !== 'fwd' && t.kind !== 'func' && t.kind !== 'func_proto') {
      try {
        btf.resolveSize(id);
      } catch (e) {
        if (!(e instanceof BpfError)) throw e;
      }
    }
    btf.skipQualifiers(id);
    if (t.name) btf.findByName(t.name);
  }
}

describe('parseBtf against bpftool oracles (fixtures/*.btf.txt)', () => {
  it('finds fixtures to compare against', () => {
    expect(oracles.length).toBeGreaterThan(0);
    expect(oracles).toContain('drop_all');
  });

  for (const name of oracles) {
    it(`${name}: same types, kinds, names and sizes as bpftool`, () => {
      const { btf, littleEndian } = fixtureBtf(name);
      expect(btf.littleEndian).toBe(littleEndian);
      const text = readFileSync(`${FIXTURES}${name}.btf.txt`, 'utf8');
      const heads = [...text.matchAll(/^\[(\d+)\] (\w+) '([^']*)'(.*)$/gm)];
      expect(heads.length).toBeGreaterThan(0);
      expect(btf.count).toBe(heads.length + 1);
      heads.forEach((m, i) => {
        const id = Number(m[1]);
        expect(id).toBe(i + 1);
        const t = btf.typeById(id);
        expect(t.id).toBe(id);
        expect(t.kind.toUpperCase()).toBe(m[2]);
        expect(t.name || '(anon)').toBe(m[3]);
        const size = / size=(\d+)/.exec(m[4]!);
        if (size) expect('size' in t ? t.size : undefined).toBe(Number(size[1]));
      });
      // formatRaw reproduces bpftool's raw dump byte for byte.
      const ours = Array.from({ length: btf.count - 1 }, (_, i) => formatRaw(btf, i + 1)).join('\n');
      expect(ours).toBe(text.trimEnd());
    });
  }

  const bigEndian = oracles.filter((n) => n.endsWith('.bpfeb') && oracles.includes(n.replace(/\.bpfeb$/, '')));
  for (const be of bigEndian) {
    it(`${be}: big-endian BTF decodes to the same types as the little-endian build`, () => {
      const b = fixtureBtf(be);
      const l = fixtureBtf(be.replace(/\.bpfeb$/, ''));
      expect(b.btf.littleEndian).toBe(false);
      expect(l.btf.littleEndian).toBe(true);
      expect(b.btf.count).toBe(l.btf.count);
      expect(Buffer.from(b.btf.raw).equals(Buffer.from(l.btf.raw))).toBe(false);
      for (let id = 0; id < l.btf.count; id++) expect(b.btf.typeById(id)).toEqual(l.btf.typeById(id));
    });
  }
});

describe('decoded fixture types', () => {
  it('drop_all: struct xdp_md and the program FUNC', () => {
    const { btf } = fixtureBtf('drop_all');
    const md = btf.findByName('xdp_md', 'struct');
    expect(md).toMatchObject({ kind: 'struct', name: 'xdp_md', size: 24 });
    if (md?.kind !== 'struct') throw new Error('unreachable');
    expect(md.members.map((m) => [m.name, m.bitOffset, m.bitfieldSize])).toEqual([
      ['data', 0, 0],
      ['data_end', 32, 0],
      ['data_meta', 64, 0],
      ['ingress_ifindex', 96, 0],
      ['rx_queue_index', 128, 0],
      ['egress_ifindex', 160, 0],
    ]);
    const u32 = btf.typeById(md.members[0]!.type);
    expect(u32).toMatchObject({ kind: 'typedef', name: '__u32' });
    expect(btf.typeById(btf.skipQualifiers(u32.id))).toMatchObject({
      kind: 'int',
      name: 'unsigned int',
      size: 4,
      bits: 32,
      bitOffset: 0,
      encoding: { signed: false, char: false, bool: false },
    });
    expect(btf.resolveSize(md.id)).toBe(24);
    const funcs = [...btf.types()].filter((t) => t.kind === 'func');
    expect(funcs.length).toBeGreaterThan(0);
    for (const f of funcs) {
      if (f.kind !== 'func') continue;
      expect(f.linkage).toBe('global');
      const proto = btf.typeById(f.type);
      expect(proto.kind).toBe('func_proto');
      if (proto.kind !== 'func_proto') continue;
      expect(proto.params.map((p) => p.name)).toEqual(['ctx']);
      expect(btf.typeById(proto.params[0]!.type)).toMatchObject({ kind: 'ptr', type: md.id });
      expect(formatType(btf, f.id)).toBe(`int ${f.name}(struct xdp_md *ctx);`);
    }
  });

  it('icmp_even_drop: BTF map definition encodes __uint as PTR to ARRAY of nelems', () => {
    const { btf } = fixtureBtf('icmp_even_drop');
    const maps = btf.findByName('.maps', 'datasec');
    if (maps?.kind !== 'datasec') throw new Error('no .maps DATASEC');
    const v = btf.typeById(maps.vars[0]!.type);
    expect(v).toMatchObject({ kind: 'var', name: 'counters', linkage: 'global' });
    if (v.kind !== 'var') return;
    const def = btf.typeById(v.type);
    if (def.kind !== 'struct') throw new Error('map def is not a struct');
    expect(def.members.map((m) => m.name)).toEqual(['type', 'max_entries', 'key', 'value']);
    const uint = (member: string): number => {
      const ptr = btf.typeById(def.members.find((m) => m.name === member)!.type);
      if (ptr.kind !== 'ptr') throw new Error(`${member} is not a PTR`);
      const arr = btf.typeById(ptr.type);
      if (arr.kind !== 'array') throw new Error(`${member} does not point at an ARRAY`);
      return arr.nelems;
    };
    expect(uint('type')).toBe(6); // BPF_MAP_TYPE_PERCPU_ARRAY
    expect(uint('max_entries')).toBe(2);
    const key = btf.typeById(def.members.find((m) => m.name === 'key')!.type);
    if (key.kind !== 'ptr') throw new Error('__type(key) is not a PTR');
    expect(btf.typeById(key.type)).toMatchObject({ kind: 'typedef', name: '__u32' });
    expect(btf.resolveSize(key.type)).toBe(4);
    expect(btf.findByName('xdp_even_drop', 'func')).toMatchObject({ kind: 'func', linkage: 'global' });
  });

  it('map_in_map: __array(values, …) is an ARRAY of PTR to the inner definition', () => {
    const { btf } = fixtureBtf('map_in_map');
    const outer = btf.findByName('outer', 'var');
    if (outer?.kind !== 'var') throw new Error('no outer');
    const def = btf.typeById(outer.type);
    if (def.kind !== 'struct') throw new Error('outer def not a struct');
    const values = def.members.find((m) => m.name === 'values')!;
    const arr = btf.typeById(values.type);
    expect(arr).toMatchObject({ kind: 'array', nelems: 0 });
    if (arr.kind !== 'array') return;
    const ptr = btf.typeById(arr.elemType);
    expect(ptr.kind).toBe('ptr');
    if (ptr.kind !== 'ptr') return;
    expect(btf.typeById(ptr.type)).toMatchObject({ kind: 'struct', name: 'inner_map_type', size: 32 });
    expect(btf.resolveSize(arr.id)).toBe(0);
    expect(btf.resolveSize(ptr.id)).toBe(8);
  });

  it('globals: DATASECs list their VARs, const volatile peels to the int', () => {
    const { btf } = fixtureBtf('globals');
    const ro = btf.findByName('.rodata', 'datasec');
    if (ro?.kind !== 'datasec') throw new Error('no .rodata');
    const vars = ro.vars.map((v) => btf.typeById(v.type));
    expect(vars.map((v) => v.name)).toEqual(['drop_port', 'verbose']);
    expect(ro.vars.map((v) => v.size)).toEqual([4, 1]);
    const dropPort = vars[0]!;
    if (dropPort.kind !== 'var') throw new Error('not a var');
    expect(btf.typeById(dropPort.type).kind).toBe('const');
    expect(btf.resolveSize(dropPort.id)).toBe(4);
    expect(btf.typeById(btf.skipQualifiers(dropPort.type))).toMatchObject({ kind: 'int', name: 'unsigned int' });
    expect(btf.resolveSize(btf.findByName('hits', 'var')!.id)).toBe(32);
    expect(formatType(btf, dropPort.id)).toBe('const volatile __u32 drop_port;');
    expect(formatType(btf, btf.findByName('hits')!.id)).toBe('__u64 hits[4];');
  });

  it('core_echo_dropper: iphdr bitfields, sizes and C output', () => {
    const { btf } = fixtureBtf('core_echo_dropper');
    const ip = btf.findByName('iphdr', 'struct');
    if (ip?.kind !== 'struct') throw new Error('no iphdr');
    expect(ip.members.slice(0, 3)).toEqual([
      { name: 'ihl', type: ip.members[0]!.type, bitOffset: 0, bitfieldSize: 4 },
      { name: 'version', type: ip.members[0]!.type, bitOffset: 4, bitfieldSize: 4 },
      { name: 'tos', type: ip.members[0]!.type, bitOffset: 8, bitfieldSize: 0 },
    ]);
    expect(btf.resolveSize(ip.id)).toBe(20);
    expect(btf.resolveSize(btf.findByName('ethhdr')!.id)).toBe(14);
    const c = formatType(btf, ip.id);
    expect(c.split('\n').slice(0, 4)).toEqual(['struct iphdr {', '\t__u8 ihl: 4;', '\t__u8 version: 4;', '\t__u8 tos;']);
    expect(c.endsWith('};')).toBe(true);
    expect(formatType(btf, btf.findByName('ethhdr')!.id)).toBe('struct ethhdr {\n\tunsigned char h_dest[6];\n\tunsigned char h_source[6];\n\t__be16 h_proto;\n};');
    expect(formatType(btf, btf.findByName('__be16')!.id)).toBe('typedef __u16 __be16;');
  });
});

/** A blob with one of everything, to check decoding field by field. */
function everyKind(le: boolean) {
  const b = new BtfBuilder();
  const int = b.int('int', 4, { signed: true }); // 1
  const uchar = b.int('unsigned char', 1, { char: true }); // 2
  const bool = b.int('_Bool', 1, { bool: true, bits: 1 }); // 3
  const ptr = b.ref('ptr', int); // 4
  const arr = b.array(int, int, 3); // 5
  const st = b.composite('struct', 'flags', 8, [
    { name: 'a', type: int, bitOffset: 0, bitfieldSize: 3 },
    { name: 'b', type: uchar, bitOffset: 3, bitfieldSize: 5 },
    { name: 'p', type: int, bitOffset: 32 },
  ]); // 6
  const un = b.composite('union', 'u', 8, [
    { name: 'x', type: int, bitOffset: 0 },
    { name: 'p', type: ptr, bitOffset: 0 },
  ]); // 7
  const en = b.enum(
    'sign',
    4,
    [
      ['NEG', -5],
      ['POS', 7],
    ],
    true,
  ); // 8
  const uen = b.enum('usign', 4, [['BIG', 0xfffffff0]]); // 9
  const fwd = b.fwd('later', true); // 10
  const td = b.ref('typedef', int, 'myint'); // 11
  const vol = b.ref('volatile', td); // 12
  const cst = b.ref('const', vol); // 13
  const rst = b.ref('restrict', ptr); // 14
  const proto = b.proto(int, [
    ['x', int],
    ['', 0],
  ]); // 15
  const fn = b.func('do_it', proto, 0); // 16
  const v = b.var('counter', cst, 2); // 17
  const ds = b.datasec('.data', 4, [[v, 0, 4]]); // 18
  const fl = b.float('double', 8); // 19
  const dtag = b.declTag('tagged', st, 1); // 20
  const ttag = b.ref('type_tag', int, 'user'); // 21
  const e64 = b.enum64(
    'wide',
    [
      ['HUGE', 0xffffffffffn],
      ['MINUS', -1n],
    ],
    true,
  ); // 22
  const ue64 = b.enum64('uwide', [['TOP', 0xfedcba9876543210n]]); // 23
  const arr2 = b.array(arr, int, 2); // 24
  return {
    btf: parseBtf(b.build(le), { source: 'synthetic' }),
    ids: { int, uchar, bool, ptr, arr, st, un, en, uen, fwd, td, vol, cst, rst, proto, fn, v, ds, fl, dtag, ttag, e64, ue64, arr2 },
  };
}

describe('every BTF kind (synthetic blobs)', () => {
  for (const le of [true, false]) {
    it(`decodes every kind's fields (${le ? 'little' : 'big'}-endian)`, () => {
      const { btf, ids } = everyKind(le);
      expect(btf.littleEndian).toBe(le);
      expect(btf.count).toBe(25);
      const t = (id: number): BtfType => btf.typeById(id);
      expect(t(0)).toEqual({ kind: 'void', id: 0, name: '' });
      expect(t(ids.int)).toEqual({
        kind: 'int',
        id: 1,
        name: 'int',
        size: 4,
        bitOffset: 0,
        bits: 32,
        encoding: { signed: true, char: false, bool: false },
      });
      expect(t(ids.uchar)).toMatchObject({ encoding: { signed: false, char: true, bool: false }, bits: 8 });
      expect(t(ids.bool)).toMatchObject({ encoding: { signed: false, char: false, bool: true }, bits: 1 });
      expect(t(ids.ptr)).toEqual({ kind: 'ptr', id: 4, name: '', type: 1 });
      expect(t(ids.arr)).toEqual({ kind: 'array', id: 5, name: '', elemType: 1, indexType: 1, nelems: 3 });
      expect(t(ids.st)).toEqual({
        kind: 'struct',
        id: 6,
        name: 'flags',
        size: 8,
        members: [
          { name: 'a', type: 1, bitOffset: 0, bitfieldSize: 3 },
          { name: 'b', type: 2, bitOffset: 3, bitfieldSize: 5 },
          { name: 'p', type: 1, bitOffset: 32, bitfieldSize: 0 },
        ],
      });
      expect(t(ids.un)).toMatchObject({ kind: 'union', size: 8, members: [{ name: 'x' }, { name: 'p', type: 4 }] });
      expect(t(ids.en)).toEqual({
        kind: 'enum',
        id: 8,
        name: 'sign',
        size: 4,
        signed: true,
        values: [
          { name: 'NEG', value: -5 },
          { name: 'POS', value: 7 },
        ],
      });
      expect(t(ids.uen)).toMatchObject({ signed: false, values: [{ name: 'BIG', value: 0xfffffff0 }] });
      expect(t(ids.fwd)).toEqual({ kind: 'fwd', id: 10, name: 'later', isUnion: true });
      expect(t(ids.td)).toEqual({ kind: 'typedef', id: 11, name: 'myint', type: 1 });
      expect(t(ids.vol)).toMatchObject({ kind: 'volatile', type: ids.td });
      expect(t(ids.cst)).toMatchObject({ kind: 'const', type: ids.vol });
      expect(t(ids.rst)).toMatchObject({ kind: 'restrict', type: ids.ptr });
      expect(t(ids.proto)).toEqual({
        kind: 'func_proto',
        id: 15,
        name: '',
        returnType: 1,
        params: [
          { name: 'x', type: 1 },
          { name: '', type: 0 },
        ],
      });
      expect(t(ids.fn)).toEqual({ kind: 'func', id: 16, name: 'do_it', type: 15, linkage: 'static' });
      expect(t(ids.v)).toEqual({ kind: 'var', id: 17, name: 'counter', type: 13, linkage: 'extern' });
      expect(t(ids.ds)).toEqual({ kind: 'datasec', id: 18, name: '.data', size: 4, vars: [{ type: 17, offset: 0, size: 4 }] });
      expect(t(ids.fl)).toEqual({ kind: 'float', id: 19, name: 'double', size: 8 });
      expect(t(ids.dtag)).toEqual({ kind: 'decl_tag', id: 20, name: 'tagged', type: 6, componentIdx: 1 });
      expect(t(ids.ttag)).toEqual({ kind: 'type_tag', id: 21, name: 'user', type: 1 });
      expect(t(ids.e64)).toEqual({
        kind: 'enum64',
        id: 22,
        name: 'wide',
        size: 8,
        signed: true,
        values: [
          { name: 'HUGE', value: 0xffffffffffn },
          { name: 'MINUS', value: -1n },
        ],
      });
      expect(t(ids.ue64)).toMatchObject({ signed: false, values: [{ name: 'TOP', value: 0xfedcba9876543210n }] });
      // Decoded objects are cached.
      expect(btf.typeById(ids.st)).toBe(btf.typeById(ids.st));
    });
  }

  it('exports kind constants and a name table', () => {
    expect(BTF_KIND_INT).toBe(1);
    expect(BTF_KIND_ENUM64).toBe(19);
    expect(BTF_KIND_NAMES[BTF_KIND_INT]).toBe('int');
    expect(BTF_KIND_NAMES[13]).toBe('func_proto');
    expect(BTF_KIND_NAMES[BTF_KIND_ENUM64]).toBe('enum64');
    expect(BTF_KIND_NAMES.length).toBe(20);
  });

  it('resolveSize follows typedefs, modifiers, tags and VARs; arrays multiply; pointers are 8', () => {
    const { btf, ids } = everyKind(true);
    expect(btf.resolveSize(ids.int)).toBe(4);
    expect(btf.resolveSize(ids.cst)).toBe(4);
    expect(btf.resolveSize(ids.v)).toBe(4);
    expect(btf.resolveSize(ids.ttag)).toBe(4);
    expect(btf.resolveSize(ids.ptr)).toBe(8);
    expect(btf.resolveSize(ids.rst)).toBe(8);
    expect(btf.resolveSize(ids.arr)).toBe(12);
    expect(btf.resolveSize(ids.arr2)).toBe(24);
    expect(btf.resolveSize(ids.e64)).toBe(8);
    expect(btf.resolveSize(ids.fl)).toBe(8);
    expect(btf.resolveSize(ids.st)).toBe(8);
    for (const sizeless of [0, ids.fwd, ids.fn, ids.proto]) {
      expect(bpfError(() => btf.resolveSize(sizeless)).code).toBe('BTF_INVALID');
    }
    expect(btf.skipQualifiers(ids.cst)).toBe(ids.int);
    expect(btf.skipQualifiers(ids.ttag)).toBe(ids.int);
    expect(btf.skipQualifiers(ids.ptr)).toBe(ids.ptr);
    expect(btf.skipQualifiers(0)).toBe(0);
  });

  it('formats C declarations', () => {
    const { btf, ids } = everyKind(true);
    expect(formatType(btf, ids.st)).toBe('struct flags {\n\tint a: 3;\n\tunsigned char b: 5;\n\tint p;\n};');
    expect(formatType(btf, ids.un)).toBe('union u {\n\tint x;\n\tint *p;\n};');
    expect(formatType(btf, ids.en)).toBe('enum sign {\n\tNEG = -5,\n\tPOS = 7,\n};');
    expect(formatType(btf, ids.e64)).toBe('enum wide {\n\tHUGE = 1099511627775LL,\n\tMINUS = -1LL,\n};');
    expect(formatType(btf, ids.fwd)).toBe('union later;');
    expect(formatType(btf, ids.td)).toBe('typedef int myint;');
    expect(formatType(btf, ids.fn)).toBe('static int do_it(int x, ...);');
    expect(formatType(btf, ids.v)).toBe('extern const volatile myint counter;');
    expect(formatType(btf, ids.arr2)).toBe('int [2][3]');
    expect(formatType(btf, ids.rst)).toBe('int *restrict');
  });

  it('formats pointers to arrays and functions, const pointers and inline anonymous types', () => {
    const b = new BtfBuilder();
    const int = b.int('int', 4, { signed: true });
    const char = b.int('char', 1, { signed: true });
    const arr = b.array(int, int, 4);
    const parr = b.ref('ptr', arr);
    const cchar = b.ref('const', char);
    const pcchar = b.ref('ptr', cchar);
    const cpcchar = b.ref('const', pcchar);
    const proto = b.proto(int, [
      ['', pcchar],
      ['', int],
    ]);
    const pfn = b.ref('ptr', proto);
    const vproto = b.proto(0, []);
    const pvfn = b.ref('ptr', vproto);
    const anonUnion = b.composite('union', '', 4, [
      { name: 'i', type: int, bitOffset: 0 },
      { name: 'c', type: char, bitOffset: 0 },
    ]);
    const anonEnum = b.enum('', 4, [['A', 0]]);
    const st = b.composite('struct', 'ops', 48, [
      { name: 'rows', type: parr, bitOffset: 0 },
      { name: 'name', type: cpcchar, bitOffset: 64 },
      { name: 'cb', type: pfn, bitOffset: 128 },
      { name: 'done', type: pvfn, bitOffset: 192 },
      { name: '', type: anonUnion, bitOffset: 256 },
      { name: 'mode', type: anonEnum, bitOffset: 288 },
    ]);
    const td = b.ref('typedef', anonUnion, 'either_t');
    const carr = b.ref('const', arr);
    const pcarr = b.ref('ptr', carr);
    const btf = parseBtf(b.build());
    expect(formatType(btf, pcarr)).toBe('const int (*)[4]');
    expect(formatType(btf, st)).toBe(
      [
        'struct ops {',
        '\tint (*rows)[4];',
        '\tconst char *const name;',
        '\tint (*cb)(const char *, int);',
        '\tvoid (*done)(void);',
        '\tunion {',
        '\t\tint i;',
        '\t\tchar c;',
        '\t};',
        '\tenum {',
        '\t\tA = 0,',
        '\t} mode;',
        '};',
      ].join('\n'),
    );
    expect(formatType(btf, td)).toBe('typedef union {\n\tint i;\n\tchar c;\n} either_t;');
    expect(formatType(btf, pfn)).toBe('int (*)(const char *, int)');
  });
});

describe('name lookup', () => {
  it('findByName / findAllByName with kinds, duplicates, anonymous and suffix-shared names', () => {
    const b = new BtfBuilder();
    const int = b.int('int', 4, { signed: true });
    const fwd = b.fwd('pair');
    const st = b.composite('struct', 'pair', 8, [{ name: 'a', type: int, bitOffset: 0 }]);
    const td = b.ref('typedef', st, 'pair');
    b.ref('ptr', st);
    // "len" shares the tail of "skb_len" in the string table.
    const skbLen = b.str('skb_len');
    const tail = b.raw([skbLen + 4, (8 << 24) >>> 0, int]); // TYPEDEF 'len'
    const whole = b.raw([skbLen, (8 << 24) >>> 0, int]); // TYPEDEF 'skb_len'
    const btf = parseBtf(b.build());
    expect(btf.findByName('pair')?.id).toBe(fwd);
    expect(btf.findByName('pair', 'struct')?.id).toBe(st);
    expect(btf.findByName('pair', 'typedef')?.id).toBe(td);
    expect(btf.findByName('pair', 'union')).toBeUndefined();
    expect(btf.findAllByName('pair').map((t) => t.id)).toEqual([fwd, st, td]);
    expect(btf.findByName('len')).toMatchObject({ id: tail, name: 'len', kind: 'typedef' });
    expect(btf.findByName('skb_len')?.id).toBe(whole);
    expect(btf.findByName('kb_len')).toBeUndefined();
    expect(btf.findByName('nope')).toBeUndefined();
    expect(btf.findByName('')).toBeUndefined();
    expect(btf.findAllByName('nope')).toEqual([]);
  });

  it('the first lookups (string search, record scan) and the name index give the same answers', () => {
    for (const le of [true, false]) {
      const b = new BtfBuilder();
      const int = b.int('int', 4, { signed: true });
      const name = b.str('x');
      // Words equal to a name offset that are not a record's name: a member's name, a size, a type id.
      const st = b.composite('struct', 'x', name, [{ name: 'x', type: int, bitOffset: name }]);
      b.raw([b.str('y'), (8 << 24) >>> 0, name > int ? int : name]);
      // "x" ends ten more strings: too many for the string search, so the record scan answers.
      for (let i = 0; i < 10; i++) b.ref('typedef', int, `t${i}_x`);
      const td = b.ref('typedef', st, 'x');
      const blob = b.build(le);
      const names = ['x', 'y', 't3_x', 'int', '_x', 'nope'];
      const fresh = names.map((n) =>
        parseBtf(blob)
          .findAllByName(n)
          .map((t) => t.id),
      );
      const indexed = parseBtf(blob);
      for (let i = 0; i < 9; i++) indexed.findByName(`warm${i}`);
      expect(names.map((n) => indexed.findAllByName(n).map((t) => t.id))).toEqual(fresh);
      expect(fresh[0]).toEqual([st, td]);
      expect(fresh[3]).toEqual([int]);
      expect(fresh[4]).toEqual([]);
    }
  });
});

describe('split BTF (module on top of a base)', () => {
  function split() {
    const bb = new BtfBuilder();
    const int = bb.int('int', 4, { signed: true });
    const task = bb.composite('struct', 'task', 8, [{ name: 'pid', type: int, bitOffset: 0 }]);
    const baseBytes = bb.build();
    const base = parseBtf(baseBytes, { source: 'vmlinux' });

    const mb = new BtfBuilder({ count: base.count, strLen: bb.strLen });
    const ptr = mb.ref('ptr', task); // refers to a base type
    const arr = mb.array(int, int, 5);
    const st = mb.composite('struct', 'mod_state', 16, [
      { name: 'owner', type: ptr, bitOffset: 0 },
      { name: 'pid', type: int, bitOffset: 64 }, // 'pid' resolves to the base's string
    ]);
    // A typedef named by the base's "task" string: split types may use base strings.
    const td = mb.raw([bb.str('task'), (8 << 24) >>> 0, arr]);
    const btf = parseBtf(mb.build(), { base, source: 'module' });
    return { base, btf, int, task, ptr, arr, st, td };
  }

  it('continues type ids and string offsets after the base', () => {
    const { base, btf, int, task, ptr, st, td } = split();
    expect(base.count).toBe(3);
    expect(btf.startId).toBe(3);
    expect(ptr).toBe(3);
    expect(btf.count).toBe(7);
    expect(btf.stringStart).toBe(base.stringEnd);
    expect(btf.typeById(int)).toBe(base.typeById(int));
    expect(btf.typeById(0).kind).toBe('void');
    expect(btf.typeById(st)).toMatchObject({ kind: 'struct', name: 'mod_state', members: [{ name: 'owner' }, { name: 'pid' }] });
    expect(btf.resolveSize(st)).toBe(16);
    expect(btf.resolveSize(td)).toBe(20);
    expect(btf.typeById(btf.skipQualifiers(ptr))).toMatchObject({ kind: 'ptr', type: task });
    expect(btf.findByName('task')?.id).toBe(task);
    expect(btf.findByName('task', 'typedef')?.id).toBe(td);
    expect(btf.findAllByName('task').map((t) => t.id)).toEqual([task, td]);
    expect(btf.findByName('mod_state')?.id).toBe(st);
    expect(btf.stringAt(btf.stringStart)).toBe('mod_state');
    expect([...btf.types()].map((t) => t.id)).toEqual([3, 4, 5, 6]);
  });

  it('rejects ids and strings past the split blob', () => {
    const { btf } = split();
    expect(bpfError(() => btf.typeById(7)).message).toBe('module: .BTF: type id 7 out of range (7 types)');
    expect(bpfError(() => btf.stringAt(btf.stringEnd)).code).toBe('BTF_INVALID');
  });
});

/** Little-endian u32 patch helper for corrupting real blobs. */
function patched(bytes: Uint8Array, at: number, value: number, width: 1 | 2 | 4 = 4): Uint8Array {
  const copy = new Uint8Array(bytes);
  const v = new DataView(copy.buffer);
  if (width === 4) v.setUint32(at, value, true);
  else if (width === 2) v.setUint16(at, value, true);
  else v.setUint8(at, value);
  return copy;
}

describe('malformed .BTF', () => {
  const src = 'fixtures/drop_all.o';
  const real = () => fixtureBtf('drop_all').bytes;

  const expectInvalid = (bytes: Uint8Array, message?: RegExp): BpfError => {
    const err = bpfError(() => exercise(parseBtf(bytes, { source: src })));
    expect(err.code).toBe('BTF_INVALID');
    expect(err.message.startsWith(`${src}: .BTF: `)).toBe(true);
    expect(err.message).not.toContain('\n');
    if (message) expect(err.message).toMatch(message);
    return err;
  };

  it('rejects every truncation', () => {
    const bytes = real();
    for (let len = 0; len < bytes.length; len++) expectInvalid(bytes.subarray(0, len));
  });

  it('rejects corrupted header fields', () => {
    const bytes = real();
    const typeLen = new DataView(bytes.buffer, bytes.byteOffset).getUint32(12, true);
    const strLen = new DataView(bytes.buffer, bytes.byteOffset).getUint32(20, true);
    expectInvalid(patched(bytes, 0, 0x1234, 2), /bad magic 0x1234/);
    expectInvalid(patched(bytes, 2, 2, 1), /unsupported version 2/);
    expectInvalid(patched(bytes, 4, 8), /header length 8 below 24/);
    expectInvalid(patched(bytes, 4, 1 << 30), /header length \d+ past end of data/);
    expectInvalid(patched(bytes, 12, typeLen + 4), /type section|overlap/);
    expectInvalid(patched(bytes, 8, 0xffff0000), /type section \d+\+\d+ past end/);
    expectInvalid(patched(bytes, 16, 0xffff0000), /string section \d+\+\d+ past end/);
    expectInvalid(patched(bytes, 20, strLen + 1), /string section/);
    expectInvalid(patched(bytes, 20, 0), /empty string section/);
    expectInvalid(patched(bytes, 24 + typeLen, 0x41, 1), /does not start with NUL/);
    expectInvalid(patched(bytes, 24 + typeLen + strLen - 1, 0x41, 1), /does not end in NUL/);
    // Shorter type section: the last record now runs past its end.
    expectInvalid(patched(bytes, 12, typeLen - 4), /runs past the end/);
  });

  it('checks the byte order it is told against the magic', () => {
    const bytes = real();
    expect(parseBtf(bytes, { littleEndian: true }).littleEndian).toBe(true);
    expect(bpfError(() => parseBtf(bytes, { littleEndian: false, source: src })).message).toBe(`${src}: .BTF: bad magic 0x9feb for big-endian BTF`);
  });

  it('rejects unknown kinds and vlen past the end while indexing', () => {
    const b = new BtfBuilder();
    b.int('int', 4);
    b.raw([0, (20 << 24) >>> 0, 0]);
    expectInvalid(b.build(), /type \[2\] has unknown kind 20/);
    const c = new BtfBuilder();
    c.raw([0, ((4 << 24) | 50) >>> 0, 8]); // STRUCT claiming 50 members, none present
    expectInvalid(c.build(), /type \[1\] STRUCT with vlen 50 runs past the end of the type section/);
  });

  it('validates lazily decoded records: type ids, string offsets, linkage, int encoding', () => {
    const cases: [(b: BtfBuilder) => void, RegExp][] = [
      [(b) => b.ref('ptr', 99), /type \[1\] refers to type id 99 out of range \(2 types\)/],
      [(b) => b.raw([99999, (8 << 24) >>> 0, 0]), /type \[1\] name offset 99999 past string section/],
      [(b) => b.composite('struct', 's', 4, [{ name: 'x', type: 42, bitOffset: 0 }]), /refers to type id 42/],
      [(b) => b.func('f', 0, 7), /FUNC 'f' has unknown linkage 7/],
      [(b) => b.var('v', 0, 3), /VAR 'v' has unknown linkage 3/],
      [(b) => b.int('odd', 3), /INT 'odd' has size 3/],
      [(b) => b.int('wide', 4, { bits: 40 }), /INT 'wide' has size 4/],
      [(b) => b.datasec('.d', 4, [[5, 0, 4]]), /refers to type id 5/],
    ];
    for (const [add, message] of cases) {
      const b = new BtfBuilder();
      add(b);
      const btf = parseBtf(b.build(), { source: src }); // the index pass accepts it…
      const err = bpfError(() => btf.typeById(1)); // …decoding does not.
      expect(err.code).toBe('BTF_INVALID');
      expect(err.message.startsWith(`${src}: .BTF: `)).toBe(true);
      expect(err.message).toMatch(message);
    }
  });

  it('rejects out-of-range ids and string offsets from callers', () => {
    const btf = parseBtf(real(), { source: src });
    for (const id of [btf.count, -1, 1.5, Number.NaN]) {
      expect(bpfError(() => btf.typeById(id)).message).toMatch(/type id .* out of range/);
    }
    expect(bpfError(() => btf.stringAt(99999)).message).toBe(`${src}: .BTF: string offset 99999 past string section (${btf.stringEnd} bytes)`);
    expect(btf.stringAt(0)).toBe('');
    expect(btf.hasString(btf.stringEnd)).toBe(false);
  });

  it('detects reference loops instead of hanging', () => {
    const b = new BtfBuilder();
    const a = b.ref('typedef', 2, 'a'); // [1] typedef a -> [2]
    b.ref('const', a); // [2] const -> [1]
    const arr = b.array(4, 4, 2); // [3] array of [4]
    b.ref('typedef', arr, 'loop_arr'); // [4] typedef -> [3]
    const p = b.ref('ptr', 5); // [5] pointer to itself
    const s = b.composite('struct', '', 4, [{ name: 'self', type: 6, bitOffset: 0 }]); // [6] anonymous, contains itself
    const btf = parseBtf(b.build(), { source: src });
    expect([a, arr, p, s]).toEqual([1, 3, 5, 6]);
    expect(bpfError(() => btf.resolveSize(a)).message).toMatch(/reference loop/);
    expect(bpfError(() => btf.skipQualifiers(a)).message).toMatch(/reference loop/);
    expect(bpfError(() => btf.resolveSize(arr)).code).toBe('BTF_INVALID');
    expect(btf.resolveSize(p)).toBe(8);
    expect(bpfError(() => formatType(btf, p)).code).toBe('BTF_INVALID');
    expect(bpfError(() => formatType(btf, s)).message).toMatch(/contains itself/);
    // Typedefs print by name, so a typedef loop does not trap the printer.
    expect(formatType(btf, a)).toBe('typedef const a a;');
  });

  it('survives random corruption of every fixture: BpfError or a usable result, nothing else', () => {
    // Deterministic xorshift so failures reproduce.
    let seed = 0x2545f491;
    const rnd = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const names = oracles.filter((n) => !n.endsWith('.bpfeb')).slice(0, 12);
    let thrown = 0;
    let parsed = 0;
    for (const name of names) {
      const bytes = fixtureBtf(name).bytes;
      // 50 a fixture: test/btf/fuzz.test.ts mutates BTF with a fresh seed every run.
      for (let i = 0; i < 50; i++) {
        const m = new Uint8Array(bytes);
        const flips = 1 + rnd(4);
        for (let f = 0; f < flips; f++) {
          // Favour the header and type section, where structure lives.
          const at = rnd(3) === 0 ? rnd(Math.min(m.length, 64)) : rnd(m.length);
          m[at] = rnd(4) === 0 ? 0xff : rnd(256);
        }
        try {
          exercise(parseBtf(m, { source: name }));
          parsed++;
        } catch (e) {
          if (!(e instanceof BpfError)) throw new Error(`${name} mutation ${i}: ${String(e)}`, { cause: e });
          expect(e.message.startsWith(`${name}: .BTF: `)).toBe(true);
          thrown++;
        }
      }
    }
    expect(thrown).toBeGreaterThan(0);
    expect(parsed).toBeGreaterThan(0);
  });
});

describe.skipIf(!existsSync(VMLINUX))('/sys/kernel/btf/vmlinux', () => {
  const bytes = existsSync(VMLINUX) ? new Uint8Array(readFileSync(VMLINUX)) : new Uint8Array();

  // Its speed is measured by `npm run bench` (btf-parse), never here.
  it('parses and finds kernel types', () => {
    const btf = parseBtf(bytes, { source: VMLINUX });
    const task = btf.findByName('task_struct', 'struct');
    expect(task).toMatchObject({ kind: 'struct', name: 'task_struct' });
    expect(btf.resolveSize(btf.findByName('iphdr', 'struct')!.id)).toBe(20);
    expect(btf.resolveSize(btf.findByName('ethhdr', 'struct')!.id)).toBe(14);
    expect(btf.typeById(btf.skipQualifiers(btf.findByName('u32', 'typedef')!.id))).toMatchObject({
      kind: 'int',
      size: 4,
    });
    expect(btf.findAllByName('task_struct').length).toBeGreaterThanOrEqual(1);
  });

  it('has contiguous ids that all decode', () => {
    const btf = parseBtf(bytes, { source: VMLINUX });
    expect(btf.count).toBeGreaterThan(10_000);
    let expected = 1;
    const kinds = new Set<string>();
    for (const t of btf.types()) {
      if (t.id !== expected++) throw new Error(`type ${t.id} where ${expected - 1} was expected`);
      kinds.add(t.kind);
    }
    expect(expected).toBe(btf.count);
    expect(kinds).not.toContain('void');
    for (const k of ['int', 'ptr', 'array', 'struct', 'union', 'enum', 'typedef', 'func', 'func_proto', 'var', 'datasec']) {
      expect(kinds).toContain(k);
    }
    expect(bpfError(() => btf.typeById(btf.count)).code).toBe('BTF_INVALID');
  });

  let bpftool = false;
  try {
    execFileSync('bpftool', ['version'], { stdio: 'ignore' });
    bpftool = true;
  } catch {
    // not installed
  }
  it.skipIf(!bpftool)('count matches bpftool btf dump', () => {
    const btf = parseBtf(bytes);
    const out = bigOutput('bpftool', ['btf', 'dump', 'file', VMLINUX]);
    expect(btf.count - 1).toBe(out.match(/^\[/gm)?.length);
  });
});
