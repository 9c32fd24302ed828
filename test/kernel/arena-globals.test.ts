// Arena globals (bpf/arena_globals.c): clang 18+ puts address_space(1) globals
// in .addr_space.1 (llvm-readelf shows the section); the loader writes their
// initial values at the end of the object's arena and points the program's
// references there, as libbpf does: the same program tags as libbpf 1.5 gave,
// and the values the program computes from them. clang 14's build of the same
// source keeps them in .data: the same answers through a data map.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openObject } from '../../src/collection.js';
import type { BpfError } from '../../src/errors.js';
import { FIXTURES } from '../helpers/oracle.js';
import { describeRoot } from '../helpers/root.js';

const file = (v: string) => join(FIXTURES, `arena_globals${v}.o`);
const readelf = (v: string) => readFileSync(join(FIXTURES, `arena_globals${v}.readelf.txt`), 'utf8');

describe('arena globals in the object (no kernel)', () => {
  it.each(['', '.clang19'])("arena_globals%s.o: .addr_space.1 (per llvm-readelf) is the arena's initial data, no map of its own", (v) => {
    const sec = /\] \.addr_space\.1\s+PROGBITS\s+\w+\s+\w+\s+(\w+)/.exec(readelf(v));
    expect(sec).not.toBeNull();
    const spec = openObject(file(v));
    // int hits = 5, then long totals[4] = {1, 2, 3, 4} (8-aligned).
    expect(spec.file.arenaData!.byteLength).toBe(parseInt(sec![1]!, 16));
    expect(Buffer.from(spec.file.arenaData!).readInt32LE(0)).toBe(5);
    expect(spec.maps.map((m) => m.name)).toEqual(['arena']);
    const relocs = spec.program('bump').relocations.filter((r) => r.kind === 'map_value');
    expect(relocs.length).toBeGreaterThan(0);
    expect(relocs.every((r) => r.kind === 'map_value' && r.map === 'arena' && r.arena === true)).toBe(true);
  });

  it('clang 14 has no arenas: the same globals in .data', () => {
    expect(readelf('.clang14')).not.toMatch(/addr_space/);
    expect(openObject(file('.clang14')).maps.map((m) => m.name)).toEqual(['.data', 'arena']);
  });
});

describeRoot('arena globals in the kernel', () => {
  // libbpf 1.5's tags for the same objects (bpf_object__load, bpf_prog_get_info_by_fd).
  const LIBBPF_TAG: Record<string, string> = { '': '1a1dab19bf2f67df', '.clang19': '1a1dab19bf2f67df', '.clang14': '3c5bbe6601aa3e98' };
  it.each(['', '.clang19', '.clang14'])("arena_globals%s.o: libbpf's instructions; hits starts at 5 and grows, totals[2] is 3", (v) => {
    using coll = openObject(file(v)).load();
    const p = coll.program('bump');
    expect(p.info().tag).toBe(LIBBPF_TAG[v]);
    // hits * 10 + totals[2], hits 6, 7, 8: the initial values reached the program, and the arena keeps its writes.
    expect([1, 2, 3].map(() => p.testRun(new Uint8Array(0)).retval)).toEqual([63, 73, 83]);
  });
});

describeRoot('arena globals in an arena with a fixed address (map_extra)', () => {
  const fixed = (v: string) => join(FIXTURES, `arena_fixed${v}.o`);
  // libbpf 1.5's tags for the same objects (bpf_object__load, bpf_prog_get_info_by_fd).
  const LIBBPF_TAG: Record<string, string> = { '': '912f531016b08b17', '.clang19': '912f531016b08b17', '.clang14': '09bec662355543aa' };
  /** Lines of /proc/self/maps that start at `address`. */
  const mappedAt = (address: bigint) =>
    readFileSync('/proc/self/maps', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith(`${address.toString(16)}-`));

  it.each(['', '.clang19', '.clang14'])("arena_fixed%s.o: libbpf's instructions; count starts at 40, table[1] is 200", (v) => {
    // bpftool's dump of the object's BTF: map_extra's enum value, 1 << 44 (clang 14
    // writes a 64-bit enum value as 0, so its arena has no fixed address).
    const value = /ENUM(?:64)? '\(anon\)' encoding=\w+ size=8 vlen=1\n\t'__unique_value\w*' val=(\d+)(?:ULL)?\n/.exec(readFileSync(join(FIXTURES, `arena_fixed${v}.btf.txt`), 'utf8'));
    expect(BigInt(value![1]!)).toBe(v === '.clang14' ? 0n : 1n << 44n);
    expect(openObject(fixed(v)).map('arena').spec.mapExtra ?? 0n).toBe(BigInt(value![1]!));
    const address = 1n << 44n;
    {
      using coll = openObject(fixed(v)).load();
      const p = coll.program('step');
      expect(p.info().tag).toBe(LIBBPF_TAG[v]);
      expect([1, 2, 3].map(() => p.testRun(new Uint8Array(0)).retval)).toEqual([242, 244, 246]);
      // clang 14: no fixed address, and its globals are in .data.
      const lines = mappedAt(address);
      if (v === '.clang14') expect(lines).toEqual([]);
      else {
        // Mapped shared, where map_extra says, for the arena's 4 pages.
        expect(lines.length).toBe(1);
        const [range, perms] = lines[0]!.split(' ');
        const [from, to] = range!.split('-').map((x) => BigInt(`0x${x}`));
        expect([to! - from!, perms]).toEqual([4n * 4096n, 'rw-s']);
        // A second load of it while this one is open would need the same address: refused, nothing replaced.
        let err: BpfError | undefined;
        try {
          openObject(fixed(v)).load();
        } catch (e) {
          err = e as BpfError;
        }
        expect(err?.code).toBe('MAP_INVALID');
        expect(err?.message).toMatch(/^map "arena": its map_extra puts the arena at 0x100000000000, where this process already has memory/);
        expect(p.testRun(new Uint8Array(0)).retval).toBe(248);
      }
    }
    // Closed: the address is free again.
    expect(mappedAt(address)).toEqual([]);
  });
});
