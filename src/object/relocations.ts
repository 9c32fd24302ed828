// .rel<section> tables: Elf64_Rel { r_offset, r_info = sym << 32 | type }.
// BPF objects use REL, never RELA: the addend lives in the instruction.

import { BpfError } from '../errors.js';
import { type ElfFile, SHT_REL } from './elf.js';
import type { ElfSymbol } from './symbols.js';

// Relocation types (llvm's BPF ELF relocations).
export const R_BPF_NONE = 0;
export const R_BPF_64_64 = 1; // ld_imm64 immediate
export const R_BPF_64_ABS64 = 2; // 64-bit data (e.g. .maps `values` slots)
export const R_BPF_64_ABS32 = 3; // 32-bit data (DWARF, BTF)
export const R_BPF_64_NODYLD32 = 4; // .BTF / .BTF.ext
export const R_BPF_64_32 = 10; // call immediate

const ELF64_REL_SIZE = 16;

export interface ElfRelocation {
  /** Byte offset inside the target section. */
  offset: number;
  type: number;
  symbol: ElfSymbol;
}

/**
 * Relocations per target section index, for every SHT_REL section except
 * those of DWARF (.debug_*): nothing reads them, and in an object built with
 * vmlinux.h they are tens of thousands of entries, most of the parse time.
 */
export function readRelocations(elf: ElfFile, symbols: ElfSymbol[]): Map<number, ElfRelocation[]> {
  const out = new Map<number, ElfRelocation[]>();
  const le = elf.littleEndian;
  for (const sec of elf.sections) {
    if (sec.type !== SHT_REL) continue;
    const target = elf.sections[sec.info];
    if (!target) {
      throw new BpfError('ELF_BAD_RELOCATION', `${elf.path}: ${sec.name} applies to section ${sec.info}, which does not exist`);
    }
    if (target.name.startsWith('.debug_')) continue;
    if (sec.size % ELF64_REL_SIZE !== 0) {
      throw new BpfError('ELF_BAD_RELOCATION', `${elf.path}: ${sec.name} size ${sec.size} is not a multiple of ${ELF64_REL_SIZE}`);
    }
    const dv = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
    const list: ElfRelocation[] = [];
    for (let off = 0; off < sec.data.byteLength; off += ELF64_REL_SIZE) {
      const offset = Number(dv.getBigUint64(off, le));
      const info = dv.getBigUint64(off + 8, le);
      const symIndex = Number(info >> 32n);
      const type = Number(info & 0xffffffffn);
      const symbol = symbols[symIndex];
      if (!symbol) {
        throw new BpfError('ELF_BAD_RELOCATION', `${elf.path}: ${sec.name}: relocation at offset ${offset} refers to missing symbol ${symIndex}`);
      }
      if (offset >= Math.max(target.size, 1) && target.size !== 0) {
        throw new BpfError('ELF_BAD_RELOCATION', `${elf.path}: ${sec.name}: relocation offset ${offset} is past the end of ${target.name} (${target.size} bytes)`);
      }
      list.push({ offset, type, symbol });
    }
    const prev = out.get(sec.info);
    out.set(sec.info, prev ? prev.concat(list) : list);
  }
  return out;
}
