// One map of every type bpf-ts users meet, created through BpfMap.create and
// checked against what the kernel reports back in bpf_map_info.
import { afterAll, expect, test } from 'vitest';
import { describeRoot } from '../helpers/root.js';
import { BpfMap, expectedMapFlags, type MapCreateSpec } from '../../src/maps/map.js';
import { BPF_MAP_TYPE as T } from '../../src/sys/map-type.js';
import { BPF_F_NO_PREALLOC, BPF_F_RDONLY_PROG } from '../../src/sys/map-attr.js';
import { possibleCpus } from '../../src/sys/cpus.js';
import { readU32 } from '../../src/maps/codec.js';

describeRoot('map types', () => {
  const open: BpfMap[] = [];
  const make = (spec: MapCreateSpec, opts?: Parameters<typeof BpfMap.create>[1]) => {
    const m = BpfMap.create(spec, opts);
    open.push(m);
    return m;
  };
  afterAll(() => open.forEach((m) => m.close()));

  const cases: [string, MapCreateSpec][] = [
    ['hash', { name: 't_hash', type: T.HASH, keySize: 8, valueSize: 16, maxEntries: 128 }],
    ['array', { name: 't_array', type: T.ARRAY, keySize: 4, valueSize: 24, maxEntries: 10 }],
    ['percpu_hash', { name: 't_pcpu_hash', type: T.PERCPU_HASH, keySize: 4, valueSize: 8, maxEntries: 64 }],
    ['percpu_array', { name: 't_pcpu_array', type: T.PERCPU_ARRAY, keySize: 4, valueSize: 12, maxEntries: 4 }],
    ['lru_hash', { name: 't_lru', type: T.LRU_HASH, keySize: 4, valueSize: 4, maxEntries: 256 }],
    ['lpm_trie', { name: 't_lpm', type: T.LPM_TRIE, keySize: 8, valueSize: 4, maxEntries: 100, flags: BPF_F_NO_PREALLOC }],
    ['devmap', { name: 't_devmap', type: T.DEVMAP, keySize: 4, valueSize: 4, maxEntries: 8 }],
    ['devmap_hash', { name: 't_devmap_hash', type: T.DEVMAP_HASH, keySize: 4, valueSize: 8, maxEntries: 8 }],
    ['cpumap (u32 qsize)', { name: 't_cpumap4', type: T.CPUMAP, keySize: 4, valueSize: 4, maxEntries: 2 }],
    ['cpumap (bpf_cpumap_val)', { name: 't_cpumap8', type: T.CPUMAP, keySize: 4, valueSize: 8, maxEntries: 2 }],
    ['prog_array', { name: 't_progs', type: T.PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 16 }],
    ['ringbuf', { name: 't_ringbuf', type: T.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 64 * 1024 }],
    ['sockhash', { name: 't_sockhash', type: T.SOCKHASH, keySize: 4, valueSize: 8, maxEntries: 32 }],
    ['sockmap', { name: 't_sockmap', type: T.SOCKMAP, keySize: 4, valueSize: 8, maxEntries: 32 }],
    ['xskmap', { name: 't_xsks', type: T.XSKMAP, keySize: 4, valueSize: 4, maxEntries: 4 }],
  ];

  test.each(cases)('%s: info matches the definition', (_label, spec) => {
    const m = make(spec);
    const info = m.info();
    expect(info.type).toBe(spec.type);
    expect(info.keySize).toBe(spec.keySize);
    expect(info.valueSize).toBe(spec.valueSize);
    expect(info.maxEntries).toBe(spec.maxEntries);
    expect(info.flags).toBe(expectedMapFlags(spec));
    expect(info.name).toBe(spec.name);
    expect(info.id).toBeGreaterThan(0);
    expect(m.id).toBe(info.id);
    expect([m.type, m.keySize, m.valueSize, m.maxEntries]).toEqual([spec.type, spec.keySize, spec.valueSize, spec.maxEntries]);
  });

  test('devmaps report BPF_F_RDONLY_PROG, which the kernel adds itself', () => {
    const m = make({ name: 't_devmap_ro', type: T.DEVMAP, keySize: 4, valueSize: 4, maxEntries: 1 });
    expect(m.flags).toBe(BPF_F_RDONLY_PROG);
  });

  test('perf_event_array with max_entries 0 gets one slot per possible CPU', () => {
    const m = make({ name: 't_perf', type: T.PERF_EVENT_ARRAY, keySize: 0, valueSize: 0, maxEntries: 0 });
    const info = m.info();
    expect(info.type).toBe(T.PERF_EVENT_ARRAY);
    expect(info.maxEntries).toBe(possibleCpus());
    expect(info.keySize).toBe(4);
    expect(info.valueSize).toBe(4);
  });

  test('ringbuf ignores key/value sizes from the definition', () => {
    const m = make({ name: 't_rb2', type: T.RINGBUF, keySize: 4, valueSize: 4, maxEntries: 4096 * 4 });
    expect([m.info().keySize, m.info().valueSize]).toEqual([0, 0]);
  });

  for (const type of [T.ARRAY_OF_MAPS, T.HASH_OF_MAPS]) {
    const label = type === T.ARRAY_OF_MAPS ? 'array_of_maps' : 'hash_of_maps';
    test(`${label} with an inner template fd; entries read back as inner map ids`, () => {
      const template = make({ name: 't_inner_tpl', type: T.ARRAY, keySize: 4, valueSize: 8, maxEntries: 4 });
      const outer = make({ name: `t_${label}`, type, keySize: 4, valueSize: 4, maxEntries: 8 }, { innerMapFd: template.fd.value });
      const info = outer.info();
      expect(info.type).toBe(type);
      expect([info.keySize, info.valueSize, info.maxEntries]).toEqual([4, 4, 8]);
      const inner = make({ name: 't_inner', type: T.ARRAY, keySize: 4, valueSize: 8, maxEntries: 4 });
      outer.set(3, inner.fd.value);
      expect(readU32(outer.get(3)!)).toBe(inner.id);
    });
  }

  test('map-in-map from an innerMap spec (temporary template)', () => {
    const outer = make({
      name: 't_aom_spec',
      type: T.ARRAY_OF_MAPS,
      keySize: 4,
      valueSize: 4,
      maxEntries: 2,
      innerMap: { name: 'inner', type: T.HASH, keySize: 4, valueSize: 4, maxEntries: 16 },
    });
    expect(outer.info().type).toBe(T.ARRAY_OF_MAPS);
    const ok = make({ name: 't_inner_ok', type: T.HASH, keySize: 4, valueSize: 4, maxEntries: 16 });
    outer.set(0, ok.fd.value);
    const bad = make({ name: 't_inner_bad', type: T.HASH, keySize: 8, valueSize: 4, maxEntries: 16 });
    expect(() => outer.set(1, bad.fd.value)).toThrow(/BPF_MAP_UPDATE_ELEM.*EINVAL/);
  });

  test('names are sanitised to [A-Za-z0-9_.] and 15 bytes', () => {
    const m = make({ name: 'my-map/with spaces.and.a.long.tail', type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    expect(m.info().name).toBe('my_map_with_spa');
    expect(m.name).toBe('my_map_with_spa');
  });

  test('map-in-map without any inner map is a clear error', () => {
    expect(() => BpfMap.create({ name: 'no_inner', type: T.HASH_OF_MAPS, keySize: 4, valueSize: 4, maxEntries: 1 })).toThrow(expect.objectContaining({ code: 'MAP_INVALID' }));
  });
});
