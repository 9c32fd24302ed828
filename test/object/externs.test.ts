// Externs without a kernel: kfunc calls, .kconfig and __ksym variables in
// bpf/kfuncs.c, bpf/kfunc_missing.c and bpf/externs.c, every build. The
// undefined symbols, their binding and their relocations come from
// llvm-readelf's dump; what each one is (VAR in .kconfig, VAR or FUNC in
// .ksyms) from bpftool's BTF dump. Parsing never fails on them.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeObject } from '../../src/cli/commands/inspect.js';
import { parseBtf } from '../../src/btf/btf.js';
import { BPF_PSEUDO_CALL, CALL, INSN_SIZE, LD_IMM64 } from '../../src/object/instruction.js';
import { parseObject } from '../../src/object/object.js';
import type { BpfObjectFile } from '../../src/object/types.js';
import { BPF_F_MMAPABLE, BPF_F_RDONLY_PROG } from '../../src/uapi/bpf.js';
import { type Fixture, listFixtures, parseBtfDump, parseReadelf, relocationsFor } from '../helpers/oracle.js';

const FILES = listFixtures().filter((f) => ['kfuncs', 'kfunc_missing', 'externs'].includes(f.base));
const load = (f: Fixture): BpfObjectFile => parseObject(new Uint8Array(readFileSync(f.path)), f.file);

describe('extern fixtures are there', () => {
  it('three sources, each built with the default clang, clang 14 and clang 19', () => {
    expect(FILES.map((f) => f.file).sort()).toEqual(['externs', 'kfunc_missing', 'kfuncs'].flatMap((b) => [`${b}.clang14.o`, `${b}.clang19.o`, `${b}.o`]).sort());
  });
});

describe.each(FILES)('$file', (fx) => {
  const obj = load(fx);
  const re = parseReadelf(readFileSync(fx.readelfPath, 'utf8'));
  const btf = parseBtfDump(readFileSync(fx.btfPath, 'utf8'));
  const btfText = readFileSync(fx.btfPath, 'utf8');
  const undef = re.symbols.filter((s) => s.ndx === 'UND' && s.name !== '');

  it('lists every undefined symbol readelf shows, weak exactly where readelf says WEAK', () => {
    expect(obj.externs.map((e) => e.name).sort()).toEqual(undef.map((s) => s.name).sort());
    for (const e of obj.externs) expect(e.weak, e.name).toBe(undef.find((s) => s.name === e.name)!.bind === 'WEAK');
  });

  it('kinds come from the BTF datasec each extern is in', () => {
    const datasecOf = (name: string): string | undefined => {
      // bpftool prints DATASEC members as "(VAR 'x')" / "(FUNC 'x')" lines under the DATASEC header.
      let current: string | undefined;
      for (const line of btfText.split('\n')) {
        const h = line.match(/^\[\d+\] DATASEC '([^']+)'/);
        if (h) current = h[1];
        else if (!line.startsWith('\t')) current = undefined;
        else if (current && line.includes(`'${name}')`)) return current;
      }
      return undefined;
    };
    for (const e of obj.externs) {
      const t = btf.find((x) => x.name === e.name && (x.kind === 'VAR' || x.kind === 'FUNC'))!;
      expect(t, e.name).toBeDefined();
      expect(e.btfTypeId).toBe(t.id);
      const ds = datasecOf(e.name);
      if (e.kind === 'kconfig') expect(ds).toBe('.kconfig');
      else expect(ds, e.name).toBe('.ksyms');
      expect(e.kind, e.name).toBe(ds === '.kconfig' ? 'kconfig' : t.kind === 'FUNC' ? 'kfunc' : 'ksym');
    }
  });

  it('every R_BPF_64_32 call to an undefined symbol is a kfunc relocation on a pseudo call', () => {
    for (const p of obj.programs) {
      const rels = relocationsFor(re, p.section).filter((r) => r.type === 'R_BPF_64_32' && undef.some((u) => u.name === r.symbolName));
      const mine = rels.filter((r) => r.offset >= p.sectionOffset && r.offset < p.sectionOffset + p.ownInstructionCount * INSN_SIZE);
      const kf = p.relocations.filter((r) => r.kind === 'kfunc');
      expect(kf.map((r) => [r.insnIndex * INSN_SIZE + p.sectionOffset, r.symbol])).toEqual(mine.map((r) => [r.offset, r.symbolName]));
      for (const r of kf) {
        expect(p.instructions[r.insnIndex * INSN_SIZE]).toBe(CALL);
        expect((p.instructions[r.insnIndex * INSN_SIZE + 1] ?? -1) >> 4).toBe(BPF_PSEUDO_CALL);
      }
    }
  });

  it('R_BPF_64_64 to a .kconfig extern reads the .kconfig map; to a __ksym one stays an extern', () => {
    for (const p of obj.programs) {
      const rels = relocationsFor(re, p.section).filter((r) => r.type === 'R_BPF_64_64' && undef.some((u) => u.name === r.symbolName));
      const mine = rels.filter((r) => r.offset >= p.sectionOffset && r.offset < p.sectionOffset + p.ownInstructionCount * INSN_SIZE);
      for (const r of mine) {
        const idx = (r.offset - p.sectionOffset) / INSN_SIZE;
        expect(p.instructions[idx * INSN_SIZE]).toBe(LD_IMM64);
        const mineRel = p.relocations.find((x) => x.insnIndex === idx)!;
        const e = obj.externs.find((x) => x.name === r.symbolName)!;
        if (e.kind === 'kconfig') expect(mineRel).toEqual({ kind: 'map_value', insnIndex: idx, map: '.kconfig', offset: e.kconfig!.offset });
        else expect(mineRel).toEqual({ kind: 'extern', insnIndex: idx, symbol: r.symbolName });
      }
    }
  });

  it('the BTF given to the kernel has no extern linkage and no FUNC inside a DATASEC', () => {
    const k = parseBtf(obj.btfForKernel!, { littleEndian: obj.littleEndian });
    for (let id = 1; id < k.count; id++) {
      const t = k.typeById(id);
      if (t.kind === 'var' || t.kind === 'func') expect(t.linkage, t.name).not.toBe('extern');
      if (t.kind === 'datasec') {
        let end = 0;
        for (const v of t.vars) {
          expect(k.typeById(v.type).kind, `${t.name}`).toBe('var');
          expect(v.offset).toBeGreaterThanOrEqual(end);
          end = v.offset + v.size;
        }
        expect(end).toBeLessThanOrEqual(t.size);
      }
    }
  });

  it('inspect lists kfuncs and externs', () => {
    const d = describeObject(obj);
    expect(d.kfuncs.map((k) => k.name).sort()).toEqual(
      obj.externs
        .filter((e) => e.kind === 'kfunc')
        .map((e) => e.name)
        .sort(),
    );
    expect(d.kfuncs.length + d.externs.length).toBe(undef.length);
  });
});

describe('kinds and layout', () => {
  const byName = (f: string) => load(FILES.find((x) => x.file === f)!);
  it('kfuncs.o: two strong kfuncs and one weak', () => {
    expect(byName('kfuncs.o').externs.map((e) => [e.name, e.kind, e.weak])).toEqual([
      ['bpf_dynptr_from_xdp', 'kfunc', false],
      ['bpf_dynptr_size', 'kfunc', false],
      ['bpf_ts_no_such_kfunc', 'kfunc', true],
    ]);
  });
  it.each(['externs.o', 'externs.clang14.o', 'externs.clang19.o'])('%s: kconfig value types, typed and typeless ksyms, the .kconfig map', (f) => {
    const o = byName(f);
    const kinds = Object.fromEntries(o.externs.map((e) => [e.name, e.kind === 'kconfig' ? `${e.kconfig!.type}/${e.kconfig!.size}` : `${e.kind}${e.typeless ? ' typeless' : ''}`]));
    expect(kinds).toEqual({
      LINUX_KERNEL_VERSION: 'int/4',
      LINUX_HAS_BPF_COOKIE: 'bool/1',
      CONFIG_BPF_JIT: 'tristate/4',
      CONFIG_BPF_SYSCALL: 'bool/1',
      CONFIG_HZ: 'int/4',
      CONFIG_LOCALVERSION: 'string/16',
      CONFIG_BPF_TS_NO_SUCH_OPTION: 'bool/1',
      CONFIG_BPF_TS_NO_SUCH_INT: 'int/8',
      bpf_prog_active: 'ksym',
      tcp_v4_connect: 'ksym typeless',
      bpf_ts_no_such_var: 'ksym',
    });
    const kc = o.maps.find((m) => m.name === '.kconfig')!;
    expect(kc.flags).toBe(BPF_F_MMAPABLE | BPF_F_RDONLY_PROG);
    expect(kc.freeze).toBe(true);
    // Every value at its natural alignment, none overlapping, all inside the map.
    const placed = o.externs
      .filter((e) => e.kind === 'kconfig')
      .map((e) => e.kconfig!)
      .sort((a, b) => a.offset - b.offset);
    let end = 0;
    for (const p of placed) {
      expect(p.offset % (p.type === 'string' ? 1 : p.size)).toBe(0);
      expect(p.offset).toBeGreaterThanOrEqual(end);
      end = p.offset + p.size;
    }
    expect(kc.valueSize).toBe(end);
  });
});
