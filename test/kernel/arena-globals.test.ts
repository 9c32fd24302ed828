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
