// Maps the loader sizes, perf event array fix-ups, map_extra, and test-run
// loading only what one program needs. The kernel's view comes from bpftool
// (`map show -j`) and bpf_map_info; CPU counts from sysfs.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { openObject } from '../../src/collection.js';
import { BpfError } from '../../src/errors.js';
import { BPF_MAP_TYPE } from '../../src/uapi/bpf.js';
import { cli, cliOk } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';

function possibleCpus(): number {
  // "0-1", "0,2-5": counted here, independently of src/sys/cpus.ts.
  return readFileSync('/sys/devices/system/cpu/possible', 'utf8')
    .trim()
    .split(',')
    .reduce((n, r) => {
      const [a = NaN, b] = r.split('-').map(Number);
      return n + (b === undefined ? 1 : b - a + 1);
    }, 0);
}
const bpftoolMap = (id: number) => JSON.parse(execFileSync('bpftool', ['map', 'show', 'id', String(id), '-j'], { encoding: 'utf8' }));
const FRAME = '00'.repeat(60);

describeRoot('sizing maps before load', () => {
  for (const v of ['', '.clang14', '.clang19']) {
    const file = `fixtures/sized_maps${v}.o`;
    it(`${file}: max_entries 0 fails the load naming the map and --max-entries`, () => {
      let err: unknown;
      try {
        openObject(file).load();
      } catch (e) {
        err = e;
      }
      expect((err as BpfError).code).toBe('MAP_SIZE');
      expect((err as BpfError).message).toMatch(/map len_counts has max_entries 0/);
      expect((err as BpfError).message).toContain('--max-entries len_counts=N');
    });

    it(`${file}: sized through the API, the kernel reports that size; the perf array is fixed up to u32/u32 x possible CPUs`, () => {
      const spec = openObject(file);
      spec.map('len_counts').maxEntries = 77;
      using coll = spec.load();
      expect(bpftoolMap(coll.map('len_counts').info().id)).toMatchObject({ type: 'hash', bytes_key: 4, bytes_value: 8, max_entries: 77 });
      // Declared: struct value (16 bytes), max_entries 4096.
      expect(bpftoolMap(coll.map('events').info().id)).toMatchObject({ type: 'perf_event_array', bytes_key: 4, bytes_value: 4, max_entries: possibleCpus() });
      coll.program('xdp_count').testRun(new Uint8Array(60));
      coll.program('xdp_count').testRun(new Uint8Array(60));
      expect(
        coll
          .map('len_counts')
          .get(Buffer.from([60, 0, 0, 0]))!
          .readBigUInt64LE(0),
      ).toBe(2n);
    });
  }

  it('CLI test-run --max-entries sizes the map; without it the error names the map and the option', async () => {
    const bad = await cli('test-run', 'fixtures/sized_maps.o', '--program', 'xdp_count', '--data-hex', FRAME, '--json');
    expect(bad.code).not.toBe(0);
    expect(bad.stdout + bad.stderr).toContain('--max-entries len_counts=N');
    const ok = await cliOk('test-run', 'fixtures/sized_maps.o', '--program', 'xdp_count', '--data-hex', FRAME, '--max-entries', 'len_counts=16', '--json');
    expect(ok.json().verdict).toBe('XDP_PASS');
    const badValue = await cli('test-run', 'fixtures/sized_maps.o', '--program', 'xdp_count', '--data-hex', FRAME, '--max-entries', 'len_counts=0');
    expect(badValue.code).not.toBe(0);
    expect(badValue.stdout + badValue.stderr).toMatch(/max_entries must be a whole number from 1/);
  });

  it('test-run loads only the program asked for and what it needs: an unsized map elsewhere does not stop it', async () => {
    // xdp_other uses only the perf array; len_counts (max_entries 0) belongs to xdp_count.
    const r = await cliOk('test-run', 'fixtures/sized_maps.o', '--program', 'xdp_other', '--data-hex', FRAME, '--json');
    expect(r.json().verdict).toBe('XDP_DROP');
    using coll = openObject('fixtures/sized_maps.o').load({ programs: ['xdp_other'], onlyNeeded: true });
    expect([...coll.maps.keys()]).toEqual(['events']);
    expect([...coll.programs.keys()]).toEqual(['xdp_other']);
    expect(coll.skipped).toEqual([{ name: 'xdp_count', section: 'xdp', reason: 'not requested' }]);
  });

  it('test-run of one program next to one the kernel refuses (section_table.o: xdp next to fentry, struct_ops, lirc…)', async () => {
    const r = await cliOk('test-run', 'fixtures/section_table.o', '--program', 's_xdp', '--data-hex', FRAME, '--json');
    expect(r.json().verdict).toBe('XDP_PASS');
  });

  it('test-run still loads tail-call targets the program needs (tailcall.o)', async () => {
    using coll = openObject('fixtures/tailcall.o').load({
      programs: openObject('fixtures/tailcall.o')
        .programs.slice(0, 1)
        .map((p) => p.name),
      onlyNeeded: true,
    });
    const spec = openObject('fixtures/tailcall.o');
    const targets = spec.maps.flatMap((m) => (m.contents ?? []).filter((s) => s.kind === 'program').map((s) => s.target));
    expect(targets.length).toBeGreaterThan(0);
    for (const t of targets) expect(coll.programs.has(t), t).toBe(true);
  });
});

describeRoot('map_extra, bloom filters and arenas', () => {
  for (const v of ['', '.clang14', '.clang19']) {
    const file = `fixtures/map_extra${v}.o`;
    it(`${file}: the kernel reports the declared map_extra; the bloom filter answers`, () => {
      using coll = openObject(file).load();
      const bloom = coll.map('seen_lengths').info();
      expect(bpftoolMap(bloom.id)).toMatchObject({ type: 'bloom_filter', bytes_key: 0, bytes_value: 4, max_entries: 64 });
      expect(bloom.mapExtra).toBe(3n);
      const arena = coll.map('arena').info();
      expect(bpftoolMap(arena.id)).toMatchObject({ type: BPF_MAP_TYPE.ARENA, flags: 1024, max_entries: 4 });
      // clang 14 cannot carry 1<<44 through __ulong(); the kernel then picks the address itself (0 here).
      expect(arena.mapExtra).toBe(v === '.clang14' ? 0n : 1n << 44n);
      const p = coll.program('xdp_bloom');
      expect([p.testRun(new Uint8Array(60)).verdict, p.testRun(new Uint8Array(60)).verdict, p.testRun(new Uint8Array(61)).verdict]).toEqual(['XDP_PASS', 'XDP_DROP', 'XDP_PASS']);
    });
  }
});
