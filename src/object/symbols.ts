// .symtab and string tables.

import { BpfError } from '../errors.js';
import { type ElfFile, type ElfSection, SHT_STRTAB, SHT_SYMTAB } from './elf.js';

export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;

export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;

export const SHN_UNDEF = 0;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;

const ELF64_SYM_SIZE = 24;

export interface ElfSymbol {
  index: number;
  name: string;
  bind: number;
  type: number;
  /** st_other & 3: STV_DEFAULT, STV_INTERNAL, STV_HIDDEN, STV_PROTECTED. */
  visibility: number;
  /** Section index (st_shndx). */
  section: number;
  value: number;
  size: number;
}

/** Read a NUL-terminated string from a string table section. */
export function readString(elf: ElfFile, strtab: ElfSection, offset: number, what: string): string {
  const data = strtab.data;
  if (offset >= data.byteLength) {
    throw new BpfError('ELF_BAD_STRING', `${elf.path}: ${what}: string offset ${offset} past the end of ${strtab.name || 'string table'} (${data.byteLength} bytes)`);
  }
  let end = offset;
  while (end < data.byteLength && data[end] !== 0) end++;
  if (end === data.byteLength) {
    throw new BpfError('ELF_BAD_STRING', `${elf.path}: ${what}: string at offset ${offset} in ${strtab.name || 'string table'} is not NUL-terminated`);
  }
  return Buffer.from(data.buffer, data.byteOffset + offset, end - offset).toString('latin1');
}

/** Read .symtab. An object without one is valid but describes nothing. */
export function readSymbols(elf: ElfFile): ElfSymbol[] {
  const symtab = elf.sections.find((s) => s.type === SHT_SYMTAB);
  if (!symtab) return [];
  const strtab = elf.sections[symtab.link];
  if (!strtab || strtab.type !== SHT_STRTAB) {
    throw new BpfError('ELF_BAD_SYMBOL', `${elf.path}: .symtab links to section ${symtab.link}, which is not a string table`);
  }
  if (symtab.size % ELF64_SYM_SIZE !== 0) {
    throw new BpfError('ELF_BAD_SYMBOL', `${elf.path}: .symtab size ${symtab.size} is not a multiple of ${ELF64_SYM_SIZE}`);
  }
  const le = elf.littleEndian;
  const d = symtab.data;
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const out: ElfSymbol[] = [];
  for (let i = 0, off = 0; off < d.byteLength; i++, off += ELF64_SYM_SIZE) {
    const info = dv.getUint8(off + 4);
    const section = dv.getUint16(off + 6, le);
    const sym: ElfSymbol = {
      index: i,
      name: readString(elf, strtab, dv.getUint32(off, le), `symbol ${i}`),
      bind: info >> 4,
      type: info & 0xf,
      visibility: dv.getUint8(off + 5) & 3,
      section,
      value: Number(dv.getBigUint64(off + 8, le)),
      size: Number(dv.getBigUint64(off + 16, le)),
    };
    if (section !== SHN_UNDEF && section < 0xff00 && section >= elf.sections.length) {
      throw new BpfError('ELF_BAD_SYMBOL', `${elf.path}: symbol ${sym.name || i} refers to section ${section}, but there are ${elf.sections.length}`);
    }
    out.push(sym);
  }
  return out;
}
