// Typed values: bytes <-> plain JS by BTF type. Expected bytes are written
// here with Buffer's own writers, independently of the codec under test.
import { describe, expect, it } from 'vitest';
import { decodeBtfValue, encodeBtfValue, toJsonValue } from '../src/btf/values/index.js';
import { BpfError } from '../src/errors.js';
import { parseBtf } from '../src/btf/btf.js';
import { parseObject } from '../src/object/object.js';
import { readObjectFile } from '../src/object/read.js';
import { BtfBuilder } from './helpers/btf-builder.js';
import { readFileSync } from 'node:fs';

/**
 * struct sample {               offset
 *   __u8  kind;                 0
 *   __s16 delta;                2
 *   __u32 count;                4
 *   __s64 total;                8
 *   __u64 bytes;                16
 *   bool  on;                   24
 *   char  name[7];              25
 *   __u16 ports[3];             32
 *   enum color c;               40 (4 bytes)
 *   unsigned int lo:3, mid:9;   44 (bits 352..363)
 *   int neg:5;                  bits 364..368
 *   union { __u32 word; __u8 b[4]; };   48 (anonymous: flattened)
 *   struct pt { __s32 x, y; } at;       52
 *   void *ptr;                  64
 *   double ratio;               72
 *   float  f;                   80
 * }  size 88
 */
function sample() {
  const b = new BtfBuilder();
  const u8 = b.int('unsigned char', 1);
  const s16 = b.int('short', 2, { signed: true });
  const u16 = b.int('unsigned short', 2);
  const u32 = b.int('unsigned int', 4);
  const s32 = b.int('int', 4, { signed: true });
  const s64 = b.int('long long', 8, { signed: true });
  const u64 = b.int('unsigned long long', 8);
  const bool = b.int('_Bool', 1, { bool: true });
  const char = b.int('char', 1, { char: true, signed: true });
  const td = (name: string, t: number) => b.ref('typedef', t, name);
  const t_u8 = td('__u8', u8);
  const t_u32 = td('__u32', u32);
  const charArr = b.array(char, u32, 7);
  const portArr = b.array(u16, u32, 3);
  const color = b.enum('color', 4, [
    ['RED', 0],
    ['GREEN', 1],
    ['BLUE', 7],
  ]);
  const bytes4 = b.array(u8, u32, 4);
  const un = b.composite('union', '', 4, [
    { name: 'word', type: t_u32, bitOffset: 0 },
    { name: 'b', type: bytes4, bitOffset: 0 },
  ]);
  const pt = b.composite('struct', 'pt', 8, [
    { name: 'x', type: s32, bitOffset: 0 },
    { name: 'y', type: s32, bitOffset: 32 },
  ]);
  const ptr = b.ref('ptr', 0);
  const dbl = b.float('double', 8);
  const flt = b.float('float', 4);
  const cnst = b.ref('const', s64);
  const s = b.composite('struct', 'sample', 88, [
    { name: 'kind', type: t_u8, bitOffset: 0 },
    { name: 'delta', type: s16, bitOffset: 16 },
    { name: 'count', type: t_u32, bitOffset: 32 },
    { name: 'total', type: cnst, bitOffset: 64 },
    { name: 'bytes', type: u64, bitOffset: 128 },
    { name: 'on', type: bool, bitOffset: 192 },
    { name: 'name', type: charArr, bitOffset: 200 },
    { name: 'ports', type: portArr, bitOffset: 256 },
    { name: 'c', type: color, bitOffset: 320 },
    { name: 'lo', type: u32, bitOffset: 352, bitfieldSize: 3 },
    { name: 'mid', type: u32, bitOffset: 355, bitfieldSize: 9 },
    { name: 'neg', type: s32, bitOffset: 364, bitfieldSize: 5 },
    { name: '', type: un, bitOffset: 384 },
    { name: 'at', type: pt, bitOffset: 416 },
    { name: 'ptr', type: ptr, bitOffset: 512 },
    { name: 'ratio', type: dbl, bitOffset: 576 },
    { name: 'f', type: flt, bitOffset: 640 },
  ]);
  return { btf: parseBtf(b.build()), s };
}

function sampleBytes(): Buffer {
  const buf = Buffer.alloc(88);
  buf.writeUInt8(200, 0);
  buf.writeInt16LE(-300, 2);
  buf.writeUInt32LE(0xdeadbeef, 4);
  buf.writeBigInt64LE(-5n, 8);
  buf.writeBigUInt64LE(0xffff_ffff_ffff_fff0n, 16);
  buf.writeUInt8(1, 24);
  buf.write('eth0', 25, 'latin1');
  buf.writeUInt16LE(22, 32);
  buf.writeUInt16LE(80, 34);
  buf.writeUInt16LE(443, 36);
  buf.writeUInt32LE(7, 40);
  // lo=5 (bits 0-2 of the u32 at 44), mid=300 (bits 3-11), neg=-3 (bits 12-16, 5-bit two's complement 0b11101)
  buf.writeUInt32LE(5 | (300 << 3) | (0b11101 << 12), 44);
  buf.writeUInt32LE(0x04030201, 48);
  buf.writeInt32LE(-1, 52);
  buf.writeInt32LE(2, 56);
  buf.writeBigUInt64LE(0xffff_8880_0000_1000n, 64);
  buf.writeDoubleLE(0.25, 72);
  buf.writeFloatLE(1.5, 80);
  return buf;
}

const EXPECTED = {
  kind: 200,
  delta: -300,
  count: 0xdeadbeef,
  total: -5n,
  bytes: 0xffff_ffff_ffff_fff0n,
  on: true,
  name: 'eth0',
  ports: [22, 80, 443],
  c: 'BLUE',
  lo: 5,
  mid: 300,
  neg: -3,
  word: 0x04030201,
  b: [1, 2, 3, 4],
  at: { x: -1, y: 2 },
  ptr: 0xffff_8880_0000_1000n,
  ratio: 0.25,
  f: 1.5,
};

describe('decodeBtfValue', () => {
  it('decodes every kind of member, anonymous union flattened', () => {
    const { btf, s } = sample();
    expect(decodeBtfValue(btf, s, sampleBytes(), { littleEndian: true })).toEqual(EXPECTED);
  });

  it('char arrays: a string only when printable and NUL-padded, else numbers', () => {
    const { btf, s } = sample();
    const buf = sampleBytes();
    buf[30] = 0x41; // a byte after the NUL: not a clean string
    expect((decodeBtfValue(btf, s, buf, { littleEndian: true }) as { name: unknown }).name).toEqual([0x65, 0x74, 0x68, 0x30, 0, 0x41, 0]);
    buf.fill(0x41, 25, 32); // no NUL at all
    expect((decodeBtfValue(btf, s, buf, { littleEndian: true }) as { name: unknown }).name).toHaveLength(7);
  });

  it('enums without a matching enumerator decode to the number', () => {
    const { btf, s } = sample();
    const buf = sampleBytes();
    buf.writeUInt32LE(3, 40);
    expect((decodeBtfValue(btf, s, buf, { littleEndian: true }) as { c: unknown }).c).toBe(3);
  });

  it('refuses a buffer shorter than the type', () => {
    const { btf, s } = sample();
    expect(() => decodeBtfValue(btf, s, new Uint8Array(10))).toThrow(/needs 88 bytes, got 10/);
  });
});

describe('encodeBtfValue', () => {
  it('round-trips the sample to the same bytes', () => {
    const { btf, s } = sample();
    const bytes = encodeBtfValue(btf, s, EXPECTED, { littleEndian: true });
    // The union is written twice (word, then b on top): both say the same bytes here.
    expect(Buffer.from(bytes).equals(sampleBytes())).toBe(true);
    expect(decodeBtfValue(btf, s, bytes, { littleEndian: true })).toEqual(EXPECTED);
  });

  it('big-endian round trip (bitfields count from the high bit)', () => {
    const { btf, s } = sample();
    // Only `word` for the union: its bytes now read 4 3 2 1.
    const be = encodeBtfValue(btf, s, { ...EXPECTED, b: undefined }, { littleEndian: false });
    expect(Buffer.from(be).readUInt32BE(4)).toBe(0xdeadbeef);
    // lo:3 is the top 3 bits of the u32 at 44 in big-endian order.
    expect(Buffer.from(be).readUInt32BE(44) >>> 29).toBe(5);
    expect(decodeBtfValue(btf, s, be, { littleEndian: false })).toEqual({ ...EXPECTED, b: [4, 3, 2, 1] });
  });

  it('missing members are zero; enum names or numbers; signed or unsigned spellings', () => {
    const { btf, s } = sample();
    const bytes = Buffer.from(encodeBtfValue(btf, s, { count: -1, c: 'GREEN', mid: 511 }, { littleEndian: true }));
    expect(bytes.readUInt32LE(4)).toBe(0xffffffff);
    expect(bytes.readUInt32LE(40)).toBe(1);
    expect((bytes.readUInt32LE(44) >>> 3) & 0x1ff).toBe(511);
    expect(bytes.readBigUInt64LE(8)).toBe(0n);
  });

  it('reports what is wrong, and where', () => {
    const { btf, s } = sample();
    const err = (v: unknown) => {
      try {
        encodeBtfValue(btf, s, v);
      } catch (e) {
        expect(e).toBeInstanceOf(BpfError);
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    expect(err({ nope: 1 })).toMatch(/struct sample has no member nope \(members: kind, delta, count/);
    expect(err({ kind: 256 })).toBe('kind: 256 does not fit 8 bits');
    expect(err({ mid: 512 })).toBe('mid: 512 does not fit 9 bits');
    expect(err({ c: 'PURPLE' })).toMatch(/c: PURPLE is not an enumerator of enum color \(RED, GREEN, BLUE\)/);
    expect(err({ name: 'too long!' })).toMatch(/name: string of 9 bytes does not fit char\[7\]/);
    expect(err({ ports: [1, 2, 3, 4] })).toMatch(/ports: 4 elements given for an array of 3/);
    expect(err({ at: { x: 'a' } })).toMatch(/at.x: expected an integer, got the string "a"/);
    expect(err(5)).toMatch(/expected an object for struct sample/);
    expect(err({ ptr: 1.5 })).toMatch(/ptr: expected an integer/);
  });

  it('raw bytes of the exact size are taken as they are', () => {
    const { btf, s } = sample();
    expect(Buffer.from(encodeBtfValue(btf, s, sampleBytes())).equals(sampleBytes())).toBe(true);
    expect(() => encodeBtfValue(btf, s, new Uint8Array(3))).toThrow(/3 bytes given for a 88-byte struct/);
  });
});

describe('fixture types', () => {
  it('lpm_blocklist: the blocklist key decodes to { prefixlen, addr }', () => {
    const obj = readObjectFile('fixtures/lpm_blocklist.o');
    const m = obj.maps.find((x) => x.name === 'blocklist')!;
    const key = Buffer.alloc(8);
    key.writeUInt32LE(24, 0); // prefixlen, host order
    Buffer.from([198, 51, 100, 0]).copy(key, 4); // address as in the IP header
    const decoded = decodeBtfValue(obj.btf!, m.btfKeyTypeId, key, { littleEndian: true });
    expect(decoded).toEqual({ prefixlen: 24, addr: Buffer.from([198, 51, 100, 0]).readUInt32LE(0) });
    expect(Buffer.from(encodeBtfValue(obj.btf!, m.btfKeyTypeId, decoded, { littleEndian: true })).equals(key)).toBe(true);
    expect(decodeBtfValue(obj.btf!, m.btfValueTypeId, Buffer.from('0500000000000000', 'hex'), { littleEndian: true })).toBe(5n);
  });

  it('globals: a DATASEC value decodes to its variables (sizes from the ELF)', () => {
    const bytes = readFileSync('fixtures/globals.o');
    const obj = parseObject(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'globals.o');
    const btf = parseBtf(obj.btfForKernel!);
    const data = obj.maps.find((x) => x.name.endsWith('.data'))!;
    const bss = obj.maps.find((x) => x.name.endsWith('.bss'))!;
    // bpf/globals.c: __u64 seen_total = 7; __u64 hits[4];
    expect(decodeBtfValue(btf, data.btfValueTypeId, data.initialValue!, { littleEndian: true })).toEqual({ seen_total: 7n });
    expect(decodeBtfValue(btf, bss.btfValueTypeId, new Uint8Array(32), { littleEndian: true })).toEqual({ hits: [0n, 0n, 0n, 0n] });
    const enc = encodeBtfValue(btf, bss.btfValueTypeId, { hits: [1, 2] }, { littleEndian: true });
    expect(Buffer.from(enc).readBigUInt64LE(8)).toBe(2n);
  });
});

describe('toJsonValue', () => {
  it('bigints become numbers when exact, strings otherwise', () => {
    expect(toJsonValue({ a: 5n, b: [2n ** 60n, -3n], c: 'x', d: new Uint8Array([1, 2]) })).toEqual({ a: 5, b: ['1152921504606846976', -3], c: 'x', d: [1, 2] });
  });
});
