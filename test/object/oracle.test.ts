// parseObject against llvm-readelf / bpftool: for every fixture with a
// readelf dump, the programs, map relocations, bpf-to-bpf calls and maps we
// read must agree with what the independent tools printed. Expected values
// come from the dumps (and from raw bytes located through the dumps' section
// offsets), never from our own parser.

import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseObject } from '../../src/object/object.js';
import type { BpfObjectFile, ProgramSpec } from '../../src/object/types.js';
import {
  type OracleRelocation,
  type OracleSection,
  type OracleSymbol,
  type ReadelfOracle,
  fixturesWithOracle,
  functions,
  isDataSectionName,
  isExecutable,
  isLegacyMapsSection,
  parseBtfDump,
  programs as oraclePrograms,
  relocationsFor,
  sectionByIndex,
  sectionBytes,
} from '../helpers/oracle.js';

const FIXTURES = fixturesWithOracle();

type Fn = OracleSymbol & { section: OracleSection };

const LD_IMM64 = 0x18;
const CALL = 0x85;
const BPF_PSEUDO_CALL = 1;
const BPF_PSEUDO_FUNC = 4;

class RawInsns {
  readonly dv: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly le: boolean,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get count(): number {
    return this.bytes.length / 8;
  }
  code(i: number): number {
    return this.bytes[i * 8]!;
  }
  src(i: number): number {
    const r = this.bytes[i * 8 + 1]!;
    return this.le ? r >> 4 : r & 0xf;
  }
  imm(i: number): number {
    return this.dv.getInt32(i * 8 + 4, this.le);
  }
}

/** Instructions of one function straight from the file, located by the oracle. */
function fnInsns(file: Uint8Array, le: boolean, f: Fn): RawInsns {
  return new RawInsns(sectionBytes(file, f.section).subarray(f.value, f.value + f.size), le);
}

interface Edge {
  from: Fn;
  /** Instruction index inside `from`. */
  at: number;
  to: Fn;
  pseudoFunc: boolean;
}

/**
 * Every function a program reaches through bpf-to-bpf calls and function
 * pointers, worked out from the oracle's symbols and relocations and the
 * instruction bytes. Throws if a call does not land on a function.
 */
function reach(o: ReadelfOracle, file: Uint8Array, le: boolean, main: Fn, alsoNames: string[] = []): { fns: Fn[]; edges: Edge[] } {
  const all = functions(o);
  // alsoNames: functions nothing calls that the program still carries (its exception callback).
  const fns: Fn[] = [main, ...alsoNames.map((n) => all.find((f) => f.name === n)!)];
  const edges: Edge[] = [];
  const find = (ndx: number, byteOff: number, why: string): Fn => {
    const f = all.find((x) => x.ndx === ndx && x.value === byteOff);
    if (!f) throw new Error(`${why}: no function at section ${ndx} offset ${byteOff}`);
    return f;
  };
  for (let k = 0; k < fns.length; k++) {
    const f = fns[k]!;
    const ins = fnInsns(file, le, f);
    const rels = new Map<number, OracleRelocation>(relocationsFor(o, f.section.name).map((r) => [r.offset, r]));
    for (let i = 0; i < ins.count; i++) {
      const off = f.value + i * 8;
      const rel = rels.get(off);
      let to: Fn | undefined;
      let pseudoFunc = false;
      if (ins.code(i) === LD_IMM64) {
        if (rel) {
          const sym = o.symbols[rel.symbolIndex]!;
          const sec = sectionByIndex(o, sym.ndx);
          if (sec && isExecutable(sec)) {
            to = find(sym.ndx as number, sym.value + ins.imm(i), `${f.name}+${i} ld_imm64`);
            pseudoFunc = true;
          }
        }
      } else if (ins.code(i) === CALL && ins.src(i) === BPF_PSEUDO_CALL) {
        if (rel && o.symbols[rel.symbolIndex]!.ndx === 'UND') {
          // A kfunc: resolved in the kernel, not linked (externs.test.ts).
          expect(rel.type, `${f.name}+${i}`).toBe('R_BPF_64_32');
        } else if (rel) {
          expect(rel.type, `${f.name}+${i}`).toBe('R_BPF_64_32');
          const sym = o.symbols[rel.symbolIndex]!;
          to = find(sym.ndx as number, sym.value + (ins.imm(i) + 1) * 8, `${f.name}+${i} call ${rel.symbolName}`);
        } else {
          to = find(f.ndx as number, off + (ins.imm(i) + 1) * 8, `${f.name}+${i} call`);
        }
      }
      if (to) {
        edges.push({ from: f, at: i, to, pseudoFunc });
        if (!fns.includes(to)) fns.push(to);
      }
      if (ins.code(i) === LD_IMM64) i++;
    }
  }
  return { fns, edges };
}

/** Positions in `out` where `f`'s instructions appear, ignoring what linking may change (call imm, ld_imm64 src/imm). */
function positionsOf(out: RawInsns, f: RawInsns): number[] {
  const found: number[] = [];
  for (let p = 0; p + f.count <= out.count; p++) {
    let ok = true;
    for (let i = 0; i < f.count && ok; i++) {
      const a = (p + i) * 8;
      const b = i * 8;
      const code = f.code(i);
      const ld = code === LD_IMM64;
      for (let j = 0; j < 8 && ok; j++) {
        if (code === CALL && j >= 4) continue;
        if (ld && (j === 1 || j >= 4)) continue;
        if (out.bytes[a + j] !== f.bytes[b + j]) ok = false;
      }
      if (code === LD_IMM64) {
        // second slot: must match exactly
        i++;
        if (i < f.count) {
          for (let j = 0; j < 8 && ok; j++) if (out.bytes[(p + i) * 8 + j] !== f.bytes[i * 8 + j]) ok = false;
        }
      }
    }
    if (ok) found.push(p);
  }
  return found;
}

function littleEndianOf(file: Uint8Array): boolean {
  // e_ident[EI_DATA]: 1 = ELFDATA2LSB, 2 = ELFDATA2MSB
  return file[5] === 1;
}

describe.each(FIXTURES)('$file against llvm-readelf', (fx) => {
  const file = new Uint8Array(readFileSync(fx.path));
  const le = littleEndianOf(file);
  const o = fx.oracle;
  const obj: BpfObjectFile = parseObject(file, fx.file);
  const btfDump = existsSync(fx.btfPath) ? readFileSync(fx.btfPath, 'utf8') : null;
  const btfTypes = btfDump ? parseBtfDump(btfDump) : null;
  /** bpftool: a DECL_TAG 'exception_callback:NAME' on the program's FUNC names a function the program carries. */
  const exceptionCallbacks = (prog: string): string[] =>
    [...(btfDump ?? '').matchAll(/DECL_TAG 'exception_callback:(\w+)' type_id=(\d+) component_idx=-1/g)].filter((m) => btfTypes?.[Number(m[2]) - 1]?.name === prog).map((m) => m[1]!);
  const progByName = (name: string): ProgramSpec => {
    const p = obj.programs.find((x) => x.name === name);
    if (!p) throw new Error(`program ${name} missing from parseObject output`);
    return p;
  };

  it('reads the byte order the build target implies', () => {
    expect(obj.littleEndian).toBe(fx.variant !== 'bpfeb');
    expect(le).toBe(fx.variant !== 'bpfeb');
  });

  it('finds exactly the global functions of executable sections (not .text) as programs', () => {
    // libbpf's SEC("?xdp") is section "?xdp" to readelf: an xdp program with autoload off.
    const expected = oraclePrograms(o)
      .map((s) => ({ name: s.name, section: s.section.name.replace(/^\?/, ''), autoload: !s.section.name.startsWith('?') }))
      .sort((a, b) => a.name.localeCompare(b.name));
    expect(expected.length).toBeGreaterThan(0);
    const actual = obj.programs.map((p) => ({ name: p.name, section: p.section, autoload: p.autoload !== false })).sort((a, b) => a.name.localeCompare(b.name));
    expect(actual).toEqual(expected);
  });

  it("takes each program's size and offset from its symbol", () => {
    for (const s of oraclePrograms(o)) {
      const p = progByName(s.name);
      expect(s.size % 8, s.name).toBe(0);
      expect(p.ownInstructionCount, s.name).toBe(s.size / 8);
      expect(p.sectionOffset, s.name).toBe(s.value);
      // The program's own code comes first, byte for byte except linked calls.
      const own = fnInsns(file, le, s);
      expect(positionsOf(new RawInsns(p.instructions, le), own), s.name).toContain(0);
    }
  });

  it('turns every R_BPF_64_64 against a map or global data into a relocation on that ld_imm64', () => {
    let checked = 0;
    for (const s of oraclePrograms(o)) {
      const p = progByName(s.name);
      const code = sectionBytes(file, s.section);
      const dv = new DataView(code.buffer, code.byteOffset, code.byteLength);
      const expected: unknown[] = [];
      for (const r of relocationsFor(o, s.section.name)) {
        if (r.offset < s.value || r.offset >= s.value + s.size || r.type !== 'R_BPF_64_64') continue;
        const sym = o.symbols[r.symbolIndex]!;
        const symSec = sectionByIndex(o, sym.ndx);
        // readelf names a section symbol by its section.
        expect(r.symbolName).toBe(sym.type === 'SECTION' ? symSec!.name : sym.name);
        if (!symSec) continue;
        const insnIndex = (r.offset - s.value) / 8;
        const imm = dv.getInt32(r.offset + 4, le);
        expect(code[r.offset], `${s.name}: relocated instruction ${insnIndex} is ld_imm64`).toBe(LD_IMM64);
        if (isLegacyMapsSection(symSec.name)) {
          let map = sym.name;
          if (sym.type === 'SECTION') {
            const def = o.symbols.find((x) => x.ndx === sym.ndx && x.type === 'OBJECT' && x.value === sym.value + imm);
            map = def!.name;
          }
          expected.push({ kind: 'map_fd', insnIndex, map });
        } else if (symSec.name === '.maps') {
          expected.push({ kind: 'map_fd', insnIndex, map: sym.name });
        } else if (isDataSectionName(symSec.name)) {
          expected.push({ kind: 'map_value', insnIndex, map: symSec.name, offset: sym.value + imm });
        } else if (symSec.name === '.addr_space.1') {
          // An arena global: a value of the object's arena map (the objects with one define that map alone in .maps).
          const maps = o.symbols.filter((x) => sectionByIndex(o, x.ndx)?.name === '.maps' && x.type === 'OBJECT');
          expect(maps.length, `${s.name}: arena globals need the one arena map`).toBe(1);
          expected.push({ kind: 'map_value', insnIndex, map: maps[0]!.name, offset: sym.value + imm, arena: true });
        }
      }
      // Relocations against undefined symbols (kfuncs, .kconfig/.ksyms externs) are checked in externs.test.ts.
      const undefinedAt = new Set(
        relocationsFor(o, s.section.name)
          .filter((r) => o.symbols[r.symbolIndex]!.ndx === 'UND')
          .map((r) => (r.offset - s.value) / 8),
      );
      // The function's own instructions: .text functions appended after them (callees, callbacks) bring
      // their own relocations (for_each.o's callbacks read .rodata), exercised by loading those objects.
      const own = s.size / 8;
      const actual = p.relocations.filter((r) => r.kind !== 'extern' && r.kind !== 'kfunc' && !undefinedAt.has(r.insnIndex) && r.insnIndex < own).sort((a, b) => a.insnIndex - b.insnIndex);
      expect(actual, s.name).toEqual(expected);
      for (const r of actual) expect(p.instructions[r.insnIndex * 8], `${s.name} insn ${r.insnIndex}`).toBe(LD_IMM64);
      checked += expected.length;
    }
    // Sanity: fixtures with maps or globals do have relocations to check.
    const mapSyms = o.symbols.filter((x) => {
      const sec = sectionByIndex(o, x.ndx);
      return sec && (isLegacyMapsSection(sec.name) || sec.name === '.maps' || isDataSectionName(sec.name));
    });
    if (mapSyms.length > 0) expect(checked).toBeGreaterThan(0);
  });

  it('appends every subprogram a program reaches, and links each call to its copy', () => {
    for (const s of oraclePrograms(o)) {
      const p = progByName(s.name);
      const { fns, edges } = reach(o, file, le, s, exceptionCallbacks(s.name));
      const total = fns.reduce((n, f) => n + f.size / 8, 0);
      expect(p.instructions.length, `${s.name}: ${fns.map((f) => f.name).join(' + ')}`).toBe(total * 8);
      const out = new RawInsns(p.instructions, le);
      const where = new Map<Fn, number[]>();
      for (const f of fns) {
        const pos = positionsOf(out, fnInsns(file, le, f));
        expect(pos.length, `${s.name}: copy of ${f.name}`).toBeGreaterThan(0);
        where.set(f, pos);
      }
      for (const e of edges) {
        const sites = e.from === s ? [0] : where.get(e.from)!;
        const ok = sites.some((base) => {
          const i = base + e.at;
          const target = i + out.imm(i) + 1;
          const srcOk = e.pseudoFunc ? out.code(i) === LD_IMM64 && out.src(i) === BPF_PSEUDO_FUNC : out.code(i) === CALL && out.src(i) === BPF_PSEUDO_CALL;
          return srcOk && where.get(e.to)!.includes(target);
        });
        expect(ok, `${s.name}: ${e.from.name}+${e.at} -> ${e.to.name}`).toBe(true);
      }
      // func_info follows the copies: one FUNC record at the start of each
      // function (type names from bpftool's dump, not our BTF reader).
      if (btfTypes && obj.btfExt) {
        const fi = p.funcInfo.map((x) => ({ at: x.insnOff, name: btfTypes[x.typeId - 1]?.name }));
        expect(fi.length, s.name).toBe(fns.length);
        for (const f of fns) {
          expect(
            fi.some((x) => x.name === f.name && where.get(f)!.includes(x.at)),
            `${s.name}: func_info for ${f.name}`,
          ).toBe(true);
        }
      }
    }
  });

  it('resolves every R_BPF_64_32 call relocation in a code section', () => {
    for (const sec of o.sections.filter(isExecutable)) {
      for (const r of relocationsFor(o, sec.name).filter((x) => x.type === 'R_BPF_64_32')) {
        const sym = o.symbols[r.symbolIndex]!;
        const callee = sectionByIndex(o, sym.ndx);
        if (sym.ndx === 'UND') {
          // kfunc: a relocation of kind kfunc on the call, resolved at load.
          const p = obj.programs.find((x) => x.section === sec.name && r.offset >= x.sectionOffset && r.offset < x.sectionOffset + x.ownInstructionCount * 8)!;
          expect(
            p.relocations.some((x) => x.kind === 'kfunc' && x.symbol === sym.name && x.insnIndex === (r.offset - p.sectionOffset) / 8),
            `${sec.name}+${r.offset} -> kfunc ${r.symbolName}`,
          ).toBe(true);
          continue;
        }
        expect(callee && isExecutable(callee), `${sec.name}+${r.offset} -> ${r.symbolName}`).toBe(true);
      }
    }
    // reach() above threw for any call that lands outside a function; here
    // also check that every function with a call relocation belongs to a program that parsed.
    expect(obj.programs.length).toBe(oraclePrograms(o).length);
  });

  it('has one map per definition symbol and per non-empty global data section', () => {
    const defs = o.symbols.filter((x) => {
      const sec = sectionByIndex(o, x.ndx);
      // Variables in .struct_ops, .struct_ops.link and their "?" forms are maps too (struct_ops maps).
      return sec && (isLegacyMapsSection(sec.name) || sec.name === '.maps' || /^\??\.struct_ops(\.link)?$/.test(sec.name)) && x.type === 'OBJECT' && x.name !== '';
    });
    const data = o.sections.filter((x) => isDataSectionName(x.name) && x.size > 0);
    // .kconfig externs (undefined symbols in BTF DATASEC ".kconfig") get one synthesized map.
    const kconfig = /DATASEC '\.kconfig' size=0 vlen=[1-9]/.test(existsSync(fx.btfPath) ? readFileSync(fx.btfPath, 'utf8') : '') ? ['.kconfig'] : [];
    const expected = [...defs.map((d) => d.name), ...data.map((d) => d.name), ...kconfig].sort();
    expect(obj.maps.map((m) => m.name).sort()).toEqual(expected);
  });

  it("decodes legacy and iproute2 definitions at the symbol's offset", () => {
    for (const d of o.symbols) {
      const sec = sectionByIndex(o, d.ndx);
      if (!sec || !isLegacyMapsSection(sec.name) || d.type !== 'OBJECT') continue;
      const bytes = sectionBytes(file, sec);
      const dv = new DataView(bytes.buffer, bytes.byteOffset + d.value, d.size);
      const u32 = (i: number) => dv.getUint32(i * 4, le);
      const m = obj.maps.find((x) => x.name === d.name)!;
      expect(m, d.name).toBeDefined();
      expect(m.section).toBe(sec.name);
      expect({ type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags }).toEqual({
        type: u32(0),
        keySize: u32(1),
        valueSize: u32(2),
        maxEntries: u32(3),
        flags: u32(4),
      });
      // struct bpf_elf_map is 9 u32s (pinning is the 7th), goebpf's 280-byte def has it 6th.
      expect(m.style, d.name).toBe(d.size === 36 ? 'iproute2' : 'legacy');
      const pin = d.size === 36 ? u32(6) : d.size === 280 ? u32(5) : 0;
      expect(m.pinning, d.name).toBe(['none', 'object', 'global'][pin]);
    }
  });

  it('makes each global data section a map holding its bytes and variables', () => {
    for (const sec of o.sections.filter((x) => isDataSectionName(x.name) && x.size > 0)) {
      const m = obj.maps.find((x) => x.name === sec.name)!;
      expect(m, sec.name).toBeDefined();
      expect(m.style).toBe('data');
      expect(m.valueSize).toBe(sec.size);
      expect(m.maxEntries).toBe(1);
      expect(m.freeze).toBe(sec.name === '.rodata' || sec.name.startsWith('.rodata.'));
      expect(Array.from(m.initialValue!)).toEqual(Array.from(sectionBytes(file, sec)));
      if (sec.type === 'NOBITS') expect(m.initialValue!.every((b) => b === 0)).toBe(true);
      const vars = o.symbols
        .filter((x) => x.ndx === sec.index && x.type === 'OBJECT' && x.size > 0)
        .map((x) => ({ name: x.name, offset: x.value, size: x.size }))
        .sort((a, b) => a.offset - b.offset);
      expect(m.variables!.map((v) => ({ name: v.name, offset: v.offset, size: v.size }))).toEqual(vars);
    }
  });

  it("puts every .rel.maps target into some map's declared contents", () => {
    const maps = o.sections.find((x) => x.name === '.maps');
    const rels = relocationsFor(o, '.maps');
    const expected = rels.map((r) => r.symbolName).sort();
    const actual = obj.maps.flatMap((m) => (m.contents ?? []).map((c) => c.target)).sort();
    expect(actual).toEqual(expected);
    for (const r of rels) {
      // The relocated slot lies inside the definition of the map whose contents name the target.
      const owner = o.symbols.find((x) => x.ndx === maps!.index && x.type === 'OBJECT' && r.offset >= x.value && r.offset < x.value + x.size)!;
      const m = obj.maps.find((x) => x.name === owner.name)!;
      expect(m.contents!.map((c) => c.target)).toContain(r.symbolName);
      const targetSym = o.symbols[r.symbolIndex]!;
      const kind = sectionByIndex(o, targetSym.ndx)!.name === '.maps' ? 'map' : 'program';
      expect(m.contents!.find((c) => c.target === r.symbolName)!.kind).toBe(kind);
    }
  });

  it('reads the license section', () => {
    const sec = o.sections.find((x) => x.name === 'license');
    if (!sec) {
      expect(obj.license).toBeNull();
      return;
    }
    const bytes = sectionBytes(file, sec);
    const end = bytes.indexOf(0);
    expect(obj.license).toBe(Buffer.from(bytes.subarray(0, end < 0 ? bytes.length : end)).toString('latin1'));
  });

  it.skipIf(!existsSync(fx.btfPath))('takes BTF ids from the types bpftool lists', () => {
    const types = parseBtfDump(readFileSync(fx.btfPath, 'utf8'));
    expect(obj.btf).not.toBeNull();
    for (const p of obj.programs) {
      const f = types.filter((t) => t.kind === 'FUNC' && t.name === p.name);
      expect(f.length, p.name).toBe(1);
      expect(p.btfFuncId, p.name).toBe(f[0]!.id);
    }
    for (const m of obj.maps.filter((x) => x.style === 'data')) {
      const ds = types.find((t) => t.kind === 'DATASEC' && t.name === m.name);
      expect(m.btfValueTypeId, m.name).toBe(ds ? ds.id : 0);
    }
  });
});

describe('build variants of one source agree', () => {
  const groups = new Map<string, typeof FIXTURES>();
  for (const f of FIXTURES) groups.set(f.base, [...(groups.get(f.base) ?? []), f]);
  // arena_globals, arena_fixed: clang 14 knows no arenas and builds their arena globals as .data, on purpose.
  const multi = [...groups].filter(([base, v]) => v.length > 1 && base !== 'arena_globals' && base !== 'arena_fixed');

  it('has several variants to compare', () => {
    expect(multi.length).toBeGreaterThan(5);
  });

  it.each(multi)('%s', (_base, variants) => {
    const describeObj = (path: string) => {
      const obj = parseObject(new Uint8Array(readFileSync(path)), path);
      return {
        license: obj.license,
        programs: obj.programs
          .map((p) => ({ name: p.name, section: p.section, type: p.type, expectedAttachType: p.expectedAttachType, progFlags: p.progFlags }))
          .sort((a, b) => a.name.localeCompare(b.name)),
        maps: obj.maps
          .map((m) => ({
            name: m.name,
            type: m.type,
            keySize: m.keySize,
            valueSize: m.valueSize,
            maxEntries: m.maxEntries,
            flags: m.flags,
            pinning: m.pinning,
            style: m.style,
            contents: m.contents,
            inner: m.innerMap && { type: m.innerMap.type, keySize: m.innerMap.keySize, valueSize: m.innerMap.valueSize, maxEntries: m.innerMap.maxEntries },
          }))
          .sort((a, b) => a.name.localeCompare(b.name)),
      };
    };
    const [first, ...rest] = variants;
    const want = describeObj(first!.path);
    for (const v of rest) expect(describeObj(v.path), `${v.file} vs ${first!.file}`).toEqual(want);
  });
});
