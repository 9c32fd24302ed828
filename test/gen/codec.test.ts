// The codecs generated modules run on: exact bytes for every layout kind
// (worked out by hand from the C layout), and errors for values that do not fit.
import { describe, expect, it } from 'vitest';
import { codec, type Layout } from '../../src/typed/codec.js';
import { BpfError } from '../../src/errors.js';

describe('typed codecs', () => {
  it('scalars in host (little-endian) order, 64-bit as bigint', () => {
    const c = codec<{ a: number; b: bigint; c: number; d: boolean }>({
      kind: 'struct',
      size: 16,
      fields: [
        { name: 'a', offset: 0, layout: { kind: 'scalar', type: 'u16' } },
        { name: 'c', offset: 2, layout: { kind: 'scalar', type: 'i8' } },
        { name: 'd', offset: 3, layout: { kind: 'scalar', type: 'bool' } },
        { name: 'b', offset: 8, layout: { kind: 'scalar', type: 'i64' } },
      ],
    });
    const bytes = c.encode({ a: 0x1234, b: -2n, c: -1, d: true });
    expect(Buffer.from(bytes).toString('hex')).toBe('3412ff0100000000' + 'feffffffffffffff');
    expect(c.decode(bytes)).toEqual({ a: 0x1234, b: -2n, c: -1, d: true });
  });

  it('char arrays are NUL-padded strings; integer arrays are typed arrays; struct arrays are lists', () => {
    const c = codec<{ s: string; u: Uint32Array; l: { x: number }[] }>({
      kind: 'struct',
      size: 20,
      fields: [
        { name: 's', offset: 0, layout: { kind: 'string', length: 4 } },
        { name: 'u', offset: 4, layout: { kind: 'array', length: 2, type: 'u32' } },
        { name: 'l', offset: 12, layout: { kind: 'list', length: 2, stride: 4, elem: { kind: 'struct', size: 4, fields: [{ name: 'x', offset: 0, layout: { kind: 'scalar', type: 'i32' } }] } } },
      ],
    });
    const b = c.encode({ s: 'ab', u: Uint32Array.of(1, 0xffffffff), l: [{ x: -1 }, { x: 7 }] });
    expect(Buffer.from(b).toString('hex')).toBe('61620000' + '01000000ffffffff' + 'ffffffff07000000');
    const v = c.decode(b);
    expect(v.s).toBe('ab');
    expect(v.u).toBeInstanceOf(Uint32Array);
    expect([...v.u]).toEqual([1, 0xffffffff]);
    expect(v.l).toEqual([{ x: -1 }, { x: 7 }]);
    // char[4] holds four characters (no NUL, as C allows), not five.
    expect(c.decode(c.encode({ s: 'abcd', u: Uint32Array.of(1, 2), l: [{ x: 0 }, { x: 0 }] })).s).toBe('abcd');
    expect(() => c.encode({ s: 'abcde', u: Uint32Array.of(1, 2), l: [{ x: 0 }, { x: 0 }] })).toThrow('"abcde" is 5 bytes, char[4] holds 4');
  });

  it('bitfields: flags:3 and kind:5 share one byte (as clang lays out struct pkt_event)', () => {
    const layout: Layout = {
      kind: 'struct',
      size: 2,
      fields: [
        { name: 'flags', bitOffset: 0, bits: 3, signed: false },
        { name: 'kind', bitOffset: 3, bits: 5, signed: false },
        { name: 'neg', bitOffset: 8, bits: 4, signed: true },
      ],
    };
    const c = codec<{ flags: number; kind: number; neg: number }>(layout);
    // flags=5 (101), kind=17 (10001): byte = 10001 101 = 0x8d; neg=-3 in 4 bits = 1101 = 0x0d
    const b = c.encode({ flags: 5, kind: 17, neg: -3 });
    expect(Buffer.from(b).toString('hex')).toBe('8d0d');
    expect(c.decode(b)).toEqual({ flags: 5, kind: 17, neg: -3 });
    expect(() => c.encode({ flags: 8, kind: 0, neg: 0 })).toThrow(/8 does not fit 3 bits/);
  });

  it('wrong types and missing fields are BpfErrors naming the place', () => {
    const c = codec<{ a: number; b: bigint }>(
      {
        kind: 'struct',
        size: 16,
        fields: [
          { name: 'a', offset: 0, layout: { kind: 'scalar', type: 'u32' } },
          { name: 'b', offset: 8, layout: { kind: 'scalar', type: 'u64' } },
        ],
      },
      'struct t',
    );
    const bad = (v: unknown) => () => c.encode(v as { a: number; b: bigint });
    expect(bad({ a: -1, b: 0n })).toThrow(BpfError);
    expect(bad({ a: -1, b: 0n })).toThrow('struct t.a: u32 takes an integer from 0 to 4294967295, got -1');
    expect(bad({ a: 1, b: 1 })).toThrow('struct t.b: u64 takes a bigint, got number');
    expect(bad({ a: 1 })).toThrow('struct t: missing field b');
    expect(bad({ a: 1, b: 1n << 64n })).toThrow('does not fit u64');
    expect(() => c.decode(new Uint8Array(8))).toThrow('struct t: needs 16 bytes, got 8');
  });
});
