// Programs and their subprograms. Every function in an executable section
// other than .text is a program (several may share a section); functions in
// .text, and static helpers beside programs, are subprograms. As libbpf does,
// each program gets a private copy of every subprogram it reaches, appended
// after its own code, with bpf-to-bpf call offsets rewritten to match.

import { BpfError, at } from '../errors.js';
import type { BtfExt, CoreRelocation, FuncInfo, LineInfo } from '../btf/ext.js';
import { type ElfFile, type ElfSection, SHF_EXECINSTR, SHT_PROGBITS } from './elf.js';
import { BPF_PSEUDO_FUNC, CALL, INSN_SIZE, Insns } from './instruction.js';
import { type ElfRelocation, R_BPF_64_32, R_BPF_64_64 } from './relocations.js';
import { sectionKind } from './section-names.js';
import { type ElfSymbol, SHN_UNDEF, STB_GLOBAL, STB_WEAK, STT_FUNC, STT_SECTION } from './symbols.js';
import type { ProgramRelocation, ProgramSpec } from './types.js';

/** One function of an executable section, in instruction units. */
interface Func {
  name: string;
  section: ElfSection;
  start: number;
  count: number;
  global: boolean;
}

/** Resolves an ld_imm64 data relocation to a map; supplied by the map readers. */
export type MapResolver = (rel: ElfRelocation, insnImm: number) => ProgramRelocation | null;

export interface ProgramInputs {
  elf: ElfFile;
  symbols: ElfSymbol[];
  relocations: Map<number, ElfRelocation[]>;
  btfExt: BtfExt | null;
  /** BTF FUNC id by name, 0 when unknown. */
  btfFuncId: (name: string) => number;
  /** The function a program names as its exception callback (BTF decl tag "exception_callback:NAME"), if any. */
  exceptionCallback?: (funcName: string) => string | undefined;
  resolveMap: MapResolver;
}

export function isCodeSection(s: ElfSection): boolean {
  return s.type === SHT_PROGBITS && (s.flags & SHF_EXECINSTR) !== 0 && s.size > 0;
}

function badReloc(elf: ElfFile, msg: string): never {
  throw new BpfError('ELF_BAD_RELOCATION', `${elf.path}: ${msg}`);
}

/** Functions of every code section, by section index, sorted by start. */
function collectFunctions(inp: Pick<ProgramInputs, 'elf' | 'symbols'>): Map<number, Func[]> {
  const { elf, symbols } = inp;
  const out = new Map<number, Func[]>();
  for (const sec of elf.sections) {
    if (!isCodeSection(sec)) continue;
    if (sec.size % INSN_SIZE !== 0) {
      throw new BpfError('PROGRAM_INVALID', `${elf.path}: section ${sec.name} is ${sec.size} bytes, not a whole number of instructions`);
    }
    const funcs: Func[] = [];
    for (const sym of symbols) {
      if (sym.section !== sec.index || sym.type !== STT_FUNC) continue;
      if (sym.value % INSN_SIZE !== 0 || sym.size % INSN_SIZE !== 0 || sym.value + sym.size > sec.size) {
        throw new BpfError('ELF_BAD_SYMBOL', `${elf.path}: function ${sym.name} (offset ${sym.value}, ${sym.size} bytes) does not fit section ${sec.name} (${sec.size} bytes)`);
      }
      if (sym.size === 0) continue;
      funcs.push({
        name: sym.name,
        section: sec,
        start: sym.value / INSN_SIZE,
        count: sym.size / INSN_SIZE,
        global: sym.bind === STB_GLOBAL || sym.bind === STB_WEAK,
      });
    }
    // Objects from old compilers carry no function symbols: the section is the program.
    if (funcs.length === 0) {
      const label = symbols.find((s) => s.section === sec.index && s.value === 0 && s.type !== STT_SECTION && s.name);
      funcs.push({ name: label?.name ?? sec.name, section: sec, start: 0, count: sec.size / INSN_SIZE, global: true });
    }
    funcs.sort((a, b) => a.start - b.start);
    funcs.reduce((prev, f) => {
      if (f.start < prev.start + prev.count) throw new BpfError('ELF_BAD_SYMBOL', `${elf.path}: functions ${prev.name} and ${f.name} overlap in ${sec.name}`);
      return f;
    });
    out.set(sec.index, funcs);
  }
  return out;
}

/** The names readPrograms() gives the object's programs, without linking them (shell completion). */
export function programNames(elf: ElfFile, symbols: ElfSymbol[]): string[] {
  const names: string[] = [];
  for (const [secIndex, funcs] of collectFunctions({ elf, symbols })) {
    if (elf.sections[secIndex]?.name === '.text') continue;
    const globals = funcs.filter((f) => f.global);
    for (const f of globals.length > 0 ? globals : funcs) names.push(f.name);
  }
  return names;
}

/** Extract every program with its subprograms linked in. */
export function readPrograms(inp: ProgramInputs): ProgramSpec[] {
  const { elf } = inp;
  const funcsBySection = collectFunctions(inp);
  const relocsBySection = new Map<number, Map<number, ElfRelocation>>();
  for (const [secIndex, list] of inp.relocations) {
    if (!funcsBySection.has(secIndex)) continue;
    const byOffset = new Map<number, ElfRelocation>();
    for (const r of list) byOffset.set(r.offset, r);
    relocsBySection.set(secIndex, byOffset);
  }

  const programs: ProgramSpec[] = [];
  for (const [secIndex, funcs] of funcsBySection) {
    const sec = at(elf.sections, secIndex, 'ELF_BAD_SECTION', `${elf.path}: section index`);
    if (sec.name === '.text') continue;
    const globals = funcs.filter((f) => f.global);
    // libbpf rejects static programs; old objects have them, so take the
    // static ones as programs only where a section has nothing else.
    const entries = globals.length > 0 ? globals : funcs;
    for (const f of entries) programs.push(linkProgram(inp, f, funcsBySection, relocsBySection));
  }
  return programs;
}

function findFunc(funcs: Func[] | undefined, at: number): Func | undefined {
  return funcs?.find((f) => f.start === at);
}

function linkProgram(inp: ProgramInputs, main: Func, funcsBySection: Map<number, Func[]>, relocsBySection: Map<number, Map<number, ElfRelocation>>): ProgramSpec {
  const { elf } = inp;
  const le = elf.littleEndian;
  const placed = new Map<Func, number>();
  const order: Func[] = [];
  let total = 0;
  const place = (f: Func): number => {
    let at = placed.get(f);
    if (at === undefined) {
      at = total;
      placed.set(f, at);
      order.push(f);
      total += f.count;
    }
    return at;
  };
  place(main);

  // First decide where every reached function goes, then copy and patch.
  // Calls are resolved in section coordinates. A function is appended when
  // first called and scanned right then, before the rest of its caller
  // (depth-first, as libbpf appends subprograms), so the kernel gets the
  // instructions libbpf gives it: the same program tag.
  const calls: { outIdx: number; target: Func; pseudoFunc: boolean }[] = [];
  const relocations: ProgramRelocation[] = [];
  const reach = (target: Func): void => {
    const fresh = !placed.has(target);
    place(target);
    if (fresh) scan(target);
  };
  const scan = (f: Func): void => {
    const base = placed.get(f)!;
    const sec = f.section;
    const insns = new Insns(sec.data, le);
    const relocs = relocsBySection.get(sec.index);
    for (let i = 0; i < f.count; i++) {
      const idx = f.start + i;
      const outIdx = base + i;
      const rel = relocs?.get(idx * INSN_SIZE);
      const code = insns.code(idx);
      if (insns.isPseudoCall(idx)) {
        let targetSec = sec.index;
        let targetIdx = idx + insns.imm(idx) + 1;
        if (rel) {
          if (rel.symbol.section === SHN_UNDEF) {
            // A kfunc (`extern … __ksym`): the loader finds it in the kernel's BTF.
            if (!rel.symbol.name) badReloc(elf, `${sec.name}+${idx * INSN_SIZE}: call to an undefined symbol without a name`);
            relocations.push({ kind: 'kfunc', insnIndex: outIdx, symbol: rel.symbol.name });
            continue;
          }
          targetSec = rel.symbol.section;
          targetIdx = rel.symbol.value / INSN_SIZE + insns.imm(idx) + 1;
        }
        const target = findFunc(funcsBySection.get(targetSec), targetIdx);
        if (!target) badReloc(elf, `${sec.name}+${idx * INSN_SIZE}: call target (section ${elf.sections[targetSec]?.name ?? targetSec}, instruction ${targetIdx}) is not the start of a function`);
        calls.push({ outIdx, target, pseudoFunc: false });
        reach(target);
        continue;
      }
      if (code === CALL && rel) {
        // A helper-style call with a relocation: a kfunc or extern function.
        relocations.push({ kind: 'kfunc', insnIndex: outIdx, symbol: rel.symbol.name });
        continue;
      }
      if (insns.isLdImm64(idx)) {
        if (i + 1 >= f.count) {
          throw new BpfError('PROGRAM_INVALID', `${elf.path}: ${f.name}: ld_imm64 at instruction ${i} is cut off by the end of the function`);
        }
        if (rel) {
          if (rel.type !== R_BPF_64_64) badReloc(elf, `${sec.name}+${idx * INSN_SIZE}: relocation type ${rel.type} on ld_imm64 (expected R_BPF_64_64)`);
          const symSec = elf.sections[rel.symbol.section];
          if (symSec && isCodeSection(symSec)) {
            // A function pointer (e.g. a bpf_loop callback): becomes BPF_PSEUDO_FUNC.
            const off = rel.symbol.value + insns.imm(idx);
            const target = off % INSN_SIZE === 0 ? findFunc(funcsBySection.get(symSec.index), off / INSN_SIZE) : undefined;
            if (!target) badReloc(elf, `${sec.name}+${idx * INSN_SIZE}: function pointer to ${symSec.name}+${off} is not the start of a function`);
            calls.push({ outIdx, target, pseudoFunc: true });
            reach(target);
          } else {
            const r = inp.resolveMap(rel, insns.imm(idx));
            if (!r)
              badReloc(elf, `${sec.name}+${idx * INSN_SIZE}: ld_imm64 refers to ${rel.symbol.name || 'a symbol'} in ${symSec?.name ?? 'no section'}, which is not a map, global data or a function`);
            relocations.push({ ...r, insnIndex: outIdx });
          }
        }
        i++;
        continue;
      }
      if (rel && rel.type === R_BPF_64_32) {
        badReloc(elf, `${sec.name}+${idx * INSN_SIZE}: call relocation on an instruction that is not a call`);
      }
    }
  };
  scan(main);
  // bpf_throw's callback (__exception_cb): nothing calls it, but the kernel finds it
  // through the program's BTF and func_info, so it goes last, as libbpf appends it.
  const cbName = inp.exceptionCallback?.(main.name);
  if (cbName !== undefined) {
    const cb = [...funcsBySection.values()].flat().find((f) => f.name === cbName);
    if (!cb) badReloc(elf, `${main.name}: its exception callback ${cbName} (BTF decl tag exception_callback:${cbName}) is not a function of the object`);
    reach(cb);
  }

  // Copy every placed function, then patch calls to their new distances.
  const out = new Uint8Array(total * INSN_SIZE);
  for (const f of order) {
    const at = placed.get(f)! * INSN_SIZE;
    out.set(f.section.data.subarray(f.start * INSN_SIZE, (f.start + f.count) * INSN_SIZE), at);
  }
  const outInsns = new Insns(out, le);
  for (const c of calls) {
    const rel = placed.get(c.target)! - (c.outIdx + 1);
    outInsns.setImm(c.outIdx, rel);
    if (c.pseudoFunc) outInsns.setSrc(c.outIdx, BPF_PSEUDO_FUNC);
  }

  // SEC("?xdp"): an xdp program libbpf does not load unless asked (autoload off).
  const optional = main.section.name.startsWith('?');
  const section = optional ? main.section.name.slice(1) : main.section.name;
  const kind = sectionKind(section);
  const funcInfo: FuncInfo[] = [];
  const lineInfo: LineInfo[] = [];
  const coreRelocations: CoreRelocation[] = [];
  if (inp.btfExt) {
    for (const f of order) {
      const shift = placed.get(f)! - f.start;
      const inRange = (x: { insnOff: number }) => x.insnOff >= f.start && x.insnOff < f.start + f.count;
      const secName = f.section.name;
      for (const x of inp.btfExt.funcInfo.get(secName) ?? []) if (inRange(x)) funcInfo.push({ ...x, insnOff: x.insnOff + shift });
      for (const x of inp.btfExt.lineInfo.get(secName) ?? []) if (inRange(x)) lineInfo.push({ ...x, insnOff: x.insnOff + shift });
      for (const x of inp.btfExt.coreRelocations.get(secName) ?? []) if (inRange(x)) coreRelocations.push({ ...x, insnOff: x.insnOff + shift });
    }
  }
  const spec: ProgramSpec = {
    name: main.name,
    section,
    type: kind.type,
    expectedAttachType: kind.expectedAttachType,
    progFlags: kind.progFlags,
    ownInstructionCount: main.count,
    instructions: out,
    relocations,
    funcInfo,
    lineInfo,
    coreRelocations,
    sectionOffset: main.start * INSN_SIZE,
    btfFuncId: inp.btfFuncId(main.name),
  };
  if (kind.attachTarget) spec.attachTarget = kind.attachTarget;
  if (optional) spec.autoload = false;
  return spec;
}
