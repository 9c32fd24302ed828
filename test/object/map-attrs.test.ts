// Map attributes without a kernel: __ulong() and map_extra (bpf/map_extra.c),
// loader-sized maps and the sizing API (bpf/sized_maps.c). Expected values
// from bpftool's BTF dumps of the same objects.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BpfObjectSpec } from '../../src/collection.js';
import { BpfError } from '../../src/errors.js';
import { parseMaxEntries } from '../../src/object/map-sizing.js';
import { BPF_MAP_TYPE } from '../../src/uapi/bpf.js';
import { FIXTURES } from '../helpers/oracle.js';

const open = (f: string) => BpfObjectSpec.fromBytes(new Uint8Array(readFileSync(`${FIXTURES}/${f}`)), f);
const dump = (f: string) => readFileSync(`${FIXTURES}/${f.replace(/\.o$/, '.btf.txt')}`, 'utf8');

describe.each(['map_extra.o', 'map_extra.clang14.o', 'map_extra.clang19.o'])('%s', (f) => {
  const spec = open(f);
  const text = dump(f);
  it('bloom filter: map_extra 3 from __uint() (an array of 3 in BTF)', () => {
    const m = spec.map('seen_lengths').spec;
    expect([m.type, m.keySize, m.valueSize, m.maxEntries, m.mapExtra]).toEqual([BPF_MAP_TYPE.BLOOM_FILTER, 0, 4, 64, 3n]);
    expect(text).toMatch(/ARRAY '\(anon\)' type_id=\d+ index_type_id=\d+ nr_elems=3\n/);
  });
  it('arena: map_extra from __ulong() is the enumerator bpftool prints (clang 14 writes a 32-bit ENUM: the value arrives cut)', () => {
    const m = spec.map('arena').spec;
    const [, val = 'none'] = /ENUM(?:64)? '\(anon\)' encoding=UNSIGNED size=8 vlen=1\n\t'[^']+' val=(\d+)/.exec(text) ?? [];
    expect(m.mapExtra).toBe(BigInt(val));
    expect(m.mapExtra).toBe(f.includes('clang14') ? 0n : 1n << 44n);
    expect([m.type, m.maxEntries, m.flags]).toEqual([BPF_MAP_TYPE.ARENA, 4, 1024]);
  });
});

describe('sizing before load', () => {
  it('sized_maps declares len_counts with max_entries 0 (bpftool: nr_elems=0)', () => {
    const spec = open('sized_maps.o');
    expect(spec.map('len_counts').maxEntries).toBe(0);
    expect(dump('sized_maps.o')).toMatch(/nr_elems=0\n/);
  });

  it('maxEntries takes a whole number 1..2^32-1 and keeps it', () => {
    const spec = open('sized_maps.o');
    spec.map('len_counts').maxEntries = 1024;
    expect(spec.maps.find((m) => m.name === 'len_counts')!.maxEntries).toBe(1024);
    for (const bad of [0, -1, 1.5, 2 ** 32, Number.NaN]) {
      let err: unknown;
      try {
        spec.map('len_counts').maxEntries = bad;
      } catch (e) {
        err = e;
      }
      expect(err, String(bad)).toBeInstanceOf(BpfError);
      expect((err as BpfError).code).toBe('MAP_SIZE');
      expect((err as BpfError).message).toContain('len_counts');
    }
    expect(spec.map('len_counts').maxEntries).toBe(1024);
  });

  it('refuses sizes a type cannot take: global data, ring buffers that are no power of two, fixed value sizes', () => {
    const g = open('globals.o');
    const data = g.maps.find((m) => m.style === 'data')!;
    expect(() => (g.map(data.name).maxEntries = 2)).toThrow(/global data maps hold exactly one value/);
    const r = open('ringbuf.o');
    const rb = r.maps.find((m) => m.type === BPF_MAP_TYPE.RINGBUF)!;
    expect(() => (r.map(rb.name).maxEntries = 5000)).toThrow(/power of two/);
    r.map(rb.name).maxEntries = 1 << 16;
    expect(r.map(rb.name).maxEntries).toBe(65536);
    const s = open('sized_maps.o');
    expect(() => (s.map('events').valueSize = 8)).toThrow(/value_size is fixed/);
  });

  it('valueSize on a plain hash changes and drops the BTF value type that no longer fits', () => {
    const s = open('sized_maps.o');
    expect(s.map('len_counts').spec.btfValueTypeId).not.toBe(0);
    s.map('len_counts').valueSize = 16;
    expect([s.map('len_counts').valueSize, s.map('len_counts').spec.btfValueTypeId]).toEqual([16, 0]);
  });

  it('an unknown map is named with the ones there are', () => {
    expect(() => open('sized_maps.o').map('nope')).toThrow(/no map named nope \(maps: len_counts, events/);
  });

  it('--max-entries parses NAME=N and refuses anything else', () => {
    expect(parseMaxEntries(['a=1', 'b.c=4096'])).toEqual([
      { name: 'a', value: 1 },
      { name: 'b.c', value: 4096 },
    ]);
    for (const bad of ['a', 'a=', '=3', 'a=-1', 'a=1x']) expect(() => parseMaxEntries([bad])).toThrow(/--max-entries takes NAME=N/);
  });
});

describe('legacy map definitions with fields bpf-ts does not know', () => {
  it.each(['legacy_extra.o', 'legacy_extra.clang14.o', 'legacy_extra.clang19.o'])('%s: warns for the non-zero ones only, sized as readelf says', (f) => {
    const spec = open(f);
    const readelf = readFileSync(`${FIXTURES}/${f.replace(/\.o$/, '.readelf.txt')}`, 'utf8');
    const size = (name: string) => Number(new RegExp(`\\s(\\d+) OBJECT\\s+GLOBAL\\s+DEFAULT\\s+\\d+ ${name}\\n`).exec(readelf)![1]);
    expect([size('extra_set'), size('inner_idx_set'), size('extra_zero')]).toEqual([24, 28, 24]);
    expect(spec.file.warnings).toHaveLength(2);
    expect(spec.file.warnings[0]).toMatch(/map extra_set: definition is 24 bytes; bytes 20..23 .* not zero/);
    expect(spec.file.warnings[1]).toMatch(/map inner_idx_set: inner_map_idx 1 .* is ignored/);
    expect(spec.maps.map((m) => [m.name, m.keySize, m.valueSize, m.maxEntries])).toEqual([
      ['extra_set', 4, 8, 2],
      ['inner_idx_set', 4, 8, 2],
      ['extra_zero', 4, 8, 2],
    ]);
  });
  it('no other fixture warns', async () => {
    const { listFixtures } = await import('../helpers/oracle.js');
    for (const fx of listFixtures().filter((x) => x.base !== 'legacy_extra')) {
      expect(open(fx.file).file.warnings, fx.file).toEqual([]);
    }
  });
});
