// struct_ops maps without a kernel (bpf/tcp_cc.c): which program fills which
// member comes from llvm-readelf's .rel.struct_ops entries and bpftool's
// member offsets; the bytes are the section's.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeObject } from '../../src/cli/commands/inspect.js';
import { parseObject } from '../../src/object/object.js';
import { BPF_MAP_TYPE, BPF_PROG_TYPE } from '../../src/uapi/bpf.js';
import { FIXTURES, parseReadelf, relocationsFor } from '../helpers/oracle.js';

describe.each(['tcp_cc.o', 'tcp_cc.clang14.o', 'tcp_cc.clang19.o'])('%s', (f) => {
  const obj = parseObject(new Uint8Array(readFileSync(`${FIXTURES}/${f}`)), f);
  const re = parseReadelf(readFileSync(`${FIXTURES}/${f.replace(/\.o$/, '.readelf.txt')}`, 'utf8'));
  const dump = readFileSync(`${FIXTURES}/${f.replace(/\.o$/, '.btf.txt')}`, 'utf8');
  const struct = dump.slice(dump.indexOf("STRUCT 'tcp_congestion_ops'"));
  const memberAt = (bytes: number) => new RegExp(`'(\\w+)' type_id=\\d+ bits_offset=${bytes * 8}\\n`).exec(struct)![1];

  it('one struct_ops map, its members mapped to programs exactly as the relocations say', () => {
    const m = obj.maps.find((x) => x.name === 'bpfts_cc')!;
    expect([m.type, m.keySize, m.maxEntries, m.style, m.section]).toEqual([BPF_MAP_TYPE.STRUCT_OPS, 4, 1, 'struct_ops', '.struct_ops']);
    const rels = relocationsFor(re, '.struct_ops');
    expect(rels.length).toBe(4);
    expect(m.structOps!.funcs.map((x) => [x.member, x.program]).sort()).toEqual(rels.map((r) => [memberAt(r.offset), r.symbolName]).sort());
    expect(m.structOps!.typeName).toBe('tcp_congestion_ops');
    expect(m.structOps!.link).toBe(false);
    // The value as the object declares it (libbpf's size before load), per bpftool: the struct's size.
    expect(m.valueSize).toBe(Number(/STRUCT 'tcp_congestion_ops' size=(\d+)/.exec(dump)![1]));
  });

  it("keeps the variable's bytes: name and flags as the C source set them", () => {
    const d = obj.maps.find((x) => x.name === 'bpfts_cc')!.structOps!.data;
    const off = (member: string) => Number(new RegExp(`'${member}' type_id=\\d+ bits_offset=(\\d+)`).exec(struct)![1]) / 8;
    expect(
      Buffer.from(d.subarray(off('name'), off('name') + 16))
        .toString('latin1')
        .replace(/\0+$/, ''),
    ).toBe('bpfts_cc');
    expect(new DataView(d.buffer, d.byteOffset).getUint32(off('flags'), true)).toBe(1);
  });

  it('its programs are struct_ops programs, and inspect shows the members', () => {
    expect(obj.programs.map((p) => p.type)).toEqual(Array(4).fill(BPF_PROG_TYPE.STRUCT_OPS));
    const d = describeObject(obj).maps.find((m) => m.name === 'bpfts_cc') as { structOps?: { struct: string; members: Record<string, string> } };
    expect(d.structOps).toEqual({
      struct: 'tcp_congestion_ops',
      link: false,
      members: { init: 'bpfts_init', cong_avoid: 'bpfts_cong_avoid', ssthresh: 'bpfts_ssthresh', undo_cwnd: 'bpfts_undo_cwnd' },
    });
  });
});

// bpf/struct_ops_deferred.c: a map in SEC(".struct_ops") and one in SEC("?.struct_ops"),
// which libbpf leaves uncreated (and its programs unloaded) unless asked for.
describe.each(['struct_ops_deferred.o', 'struct_ops_deferred.clang14.o', 'struct_ops_deferred.clang19.o'])('%s', (f) => {
  const obj = parseObject(new Uint8Array(readFileSync(`${FIXTURES}/${f}`)), f);
  const re = parseReadelf(readFileSync(`${FIXTURES}/${f.replace(/\.o$/, '.readelf.txt')}`, 'utf8'));

  it('reads both sections; the "?" one as a map not created unless asked for', () => {
    const byName = Object.fromEntries(obj.maps.map((m) => [m.name, m]));
    expect(Object.keys(byName).sort()).toEqual(['dummy', 'dummy_optional']);
    // llvm-readelf: the two sections and which program each relocation names.
    expect(re.sections.map((s) => s.name)).toEqual(expect.arrayContaining(['.struct_ops', '?.struct_ops']));
    for (const [map, section] of [
      ['dummy', '.struct_ops'],
      ['dummy_optional', '?.struct_ops'],
    ] as const) {
      const m = byName[map]!;
      expect([m.type, m.section, m.structOps!.typeName, m.structOps!.link]).toEqual([BPF_MAP_TYPE.STRUCT_OPS, section, 'bpf_dummy_ops', false]);
      expect(m.structOps!.funcs.map((x) => x.program).sort()).toEqual(
        relocationsFor(re, section)
          .map((r) => r.symbolName)
          .sort(),
      );
    }
    // bpftool: struct bpf_dummy_ops is 24 bytes here (libbpf 1.5 reports the map's value size as 24 before load).
    expect(readFileSync(`${FIXTURES}/${f.replace(/\.o$/, '.btf.txt')}`, 'utf8')).toMatch(/STRUCT 'bpf_dummy_ops' size=24 vlen=3/);
    expect([byName.dummy!.valueSize, byName.dummy_optional!.valueSize]).toEqual([24, 24]);
    expect(byName.dummy!.autocreate).toBeUndefined();
    expect(byName.dummy_optional!.autocreate).toBe(false);
    expect(describeObject(obj).maps.find((m) => m.name === 'dummy_optional')).toMatchObject({ autocreate: false });
  });
});

// bpf/struct_ops_optional_link.c: a map in SEC("?.struct_ops.link").
describe.each(['struct_ops_optional_link.o', 'struct_ops_optional_link.clang14.o', 'struct_ops_optional_link.clang19.o'])('%s', (f) => {
  it('the "?" link section: not created unless asked for, and registered through a bpf_link (BPF_F_LINK, as libbpf 1.5 reports: flags 8192)', () => {
    const obj = parseObject(new Uint8Array(readFileSync(`${FIXTURES}/${f}`)), f);
    const re = parseReadelf(readFileSync(`${FIXTURES}/${f.replace(/\.o$/, '.readelf.txt')}`, 'utf8'));
    expect(re.sections.map((s) => s.name)).toContain('?.struct_ops.link');
    expect(obj.maps.map((m) => m.name)).toEqual(['dummy_linked']);
    const m = obj.maps[0]!;
    expect([m.section, m.autocreate, m.structOps!.link, m.flags, m.valueSize]).toEqual(['?.struct_ops.link', false, true, 8192, 24]);
    expect(m.structOps!.funcs).toEqual(relocationsFor(re, '?.struct_ops.link').map((r) => ({ member: 'test_1', program: r.symbolName })));
  });
});
