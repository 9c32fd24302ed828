// A program of an ELF object as text, like `llvm-objdump -S` but with
// relocations resolved to names: the C source line (from .BTF.ext line info)
// above each run of instructions, maps and global variables by name, helper,
// kfunc and local function calls by name.

import type { BpfObjectFile, ProgramRelocation, ProgramSpec } from '../object/types.js';
import { type DisasmNames, disassemble, insnText, signed } from './disasm.js';
import type { Insn } from './insn.js';
import * as op from './opcode.js';

export interface ListingLine {
  slot: number;
  text: string;
  /** Raw text (no names), which assembles back to the same bytes. */
  plain: string;
  /** The C source line starting at this instruction, when line info says so. */
  source?: { file: string; line: number; text: string };
}

/** Function names by slot (from func_info and BTF), the program itself at 0. */
function functionNames(obj: BpfObjectFile, spec: ProgramSpec): Map<number, string> {
  const names = new Map<number, string>([[0, spec.name]]);
  for (const f of spec.funcInfo) {
    try {
      const t = obj.btf?.typeById(f.typeId) as { name?: string } | undefined;
      if (t?.name) names.set(f.insnOff, t.name);
    } catch {
      // a bad type id: leave the call numeric
    }
  }
  return names;
}

function relocationName(obj: BpfObjectFile, r: ProgramRelocation): string {
  if (r.kind === 'map_fd') return `map[${r.map}]`;
  if (r.kind === 'extern') return `extern ${r.symbol}`;
  if (r.kind === 'kfunc') return `kfunc ${r.symbol}`;
  // Global data: name the variable the offset falls in.
  const m = obj.maps.find((x) => x.name === r.map);
  const v = m?.variables?.find((x) => r.offset >= x.offset && r.offset < x.offset + Math.max(1, x.size));
  if (v) return r.offset === v.offset ? `&${v.name}` : `&${v.name} + ${r.offset - v.offset}`;
  return `&${r.map}${r.offset ? ` + ${r.offset}` : ''}`;
}

export function programListing(obj: BpfObjectFile, spec: ProgramSpec): ListingLine[] {
  const funcs = functionNames(obj, spec);
  const relocs = new Map(spec.relocations.map((r) => [r.insnIndex, r]));
  const names: DisasmNames = {
    ldImm64(i: Insn, slot: number) {
      const r = relocs.get(slot);
      if (r) return `${relocationName(obj, r)} ll`;
      if (i.src === op.BPF_PSEUDO_FUNC) {
        const f = funcs.get(slot + 1 + i.imm);
        return f ? `func(${f}) ll` : undefined;
      }
      return undefined;
    },
    call(i: Insn, slot: number) {
      const r = relocs.get(slot);
      if (r?.kind === 'extern' || r?.kind === 'kfunc') return `${r.symbol} (kfunc)`;
      if (i.src === op.BPF_PSEUDO_CALL) {
        const f = funcs.get(slot + 1 + i.imm);
        return f ? `${f} (pc${signed(i.imm)})` : undefined;
      }
      return undefined;
    },
  };
  const named = disassemble(spec.instructions, { littleEndian: obj.littleEndian, names });
  const bySlot = new Map(spec.lineInfo.map((l) => [l.insnOff, l]));
  let lastLine = '';
  return named.map((l) => {
    const li = bySlot.get(l.slot);
    const out: ListingLine = { slot: l.slot, text: l.text, plain: insnText(l.insn, undefined, l.slot) };
    if (li) {
      const key = `${li.fileName}:${li.line}`;
      // A new line entry for the same source line is not repeated.
      if (key !== lastLine && li.source.trim()) out.source = { file: li.fileName, line: li.line, text: li.source.trim() };
      lastLine = key;
    }
    return out;
  });
}
