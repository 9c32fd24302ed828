// The ELF header and section table, read straight from the bytes. Every
// field is checked before it is used (offsets past the end, a bad shstrndx,
// names past their table), and every problem is a BpfError. No ELF library:
// the section table is a few fixed-size records, and loading one cost more
// start-up time (the CLI's inspect) than the whole parse.

import { BpfError } from '../errors.js';

export const EM_BPF = 247;
export const ET_REL = 1;

// Section types (sh_type).
export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;

// Section flags (sh_flags).
export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;

const ELF64_SHDR_SIZE = 64;
const ELF64_EHDR_SIZE = 64;

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  entsize: number;
  /** The section's bytes; empty for SHT_NOBITS (.bss), whose `size` still counts. */
  data: Uint8Array;
}

export interface ElfFile {
  path: string;
  bytes: Uint8Array;
  littleEndian: boolean;
  sections: ElfSection[];
}

function fail(path: string, code: 'ELF_TRUNCATED' | 'ELF_BAD_MAGIC' | 'ELF_UNSUPPORTED' | 'ELF_BAD_SECTION' | 'ELF_BAD_STRING', msg: string): never {
  throw new BpfError(code, `${path}: ${msg}`);
}

/** Read the ELF header and section table of a BPF relocatable object. */
export function readElf(bytes: Uint8Array, path: string): ElfFile {
  if (bytes.byteLength < 16) fail(path, 'ELF_TRUNCATED', `${bytes.byteLength} bytes is too short for an ELF header`);
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    fail(path, 'ELF_BAD_MAGIC', 'not an ELF file (bad magic)');
  }
  if (bytes[4] !== 2) fail(path, 'ELF_UNSUPPORTED', 'not a 64-bit ELF object (BPF objects are ELF64)');
  if (bytes[5] !== 1 && bytes[5] !== 2) fail(path, 'ELF_UNSUPPORTED', `unknown ELF data encoding ${bytes[5]}`);
  const le = bytes[5] === 1;
  if (bytes.byteLength < ELF64_EHDR_SIZE) fail(path, 'ELF_TRUNCATED', `${bytes.byteLength} bytes is too short for an ELF64 header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = dv.getUint16(16, le);
  const machine = dv.getUint16(18, le);
  if (machine !== EM_BPF) fail(path, 'ELF_UNSUPPORTED', `machine ${machine} is not BPF (${EM_BPF})`);
  if (type !== ET_REL) fail(path, 'ELF_UNSUPPORTED', `ELF type ${type} is not a relocatable object (clang -c output)`);

  const shoff = Number(dv.getBigUint64(40, le));
  const shentsize = dv.getUint16(58, le);
  const shnum = dv.getUint16(60, le);
  const shstrndx = dv.getUint16(62, le);
  if (shnum === 0) fail(path, 'ELF_BAD_SECTION', 'object has no section table');
  if (shentsize !== ELF64_SHDR_SIZE) fail(path, 'ELF_BAD_SECTION', `section header size ${shentsize}, expected ${ELF64_SHDR_SIZE}`);
  if (shoff + shnum * ELF64_SHDR_SIZE > bytes.byteLength) {
    fail(path, 'ELF_TRUNCATED', `section table (${shnum} entries at offset ${shoff}) runs past the end of the file (${bytes.byteLength} bytes)`);
  }
  if (shstrndx >= shnum) fail(path, 'ELF_BAD_SECTION', `section name table index ${shstrndx} out of range (${shnum} sections)`);

  // Every section's bytes lie inside the file.
  for (let i = 0; i < shnum; i++) {
    const base = shoff + i * ELF64_SHDR_SIZE;
    const t = dv.getUint32(base + 4, le);
    const off = Number(dv.getBigUint64(base + 24, le));
    const size = Number(dv.getBigUint64(base + 32, le));
    if (t !== SHT_NOBITS && t !== SHT_NULL && off + size > bytes.byteLength) {
      fail(path, 'ELF_TRUNCATED', `section ${i} (offset ${off}, ${size} bytes) runs past the end of the file (${bytes.byteLength} bytes)`);
    }
  }
  const strBase = shoff + shstrndx * ELF64_SHDR_SIZE;
  if (dv.getUint32(strBase + 4, le) !== SHT_STRTAB) fail(path, 'ELF_BAD_SECTION', `section ${shstrndx} named as the section name table is not a string table`);
  // Every sh_name lies inside the name table and is NUL-terminated there.
  const strOff = Number(dv.getBigUint64(strBase + 24, le));
  const strSize = Number(dv.getBigUint64(strBase + 32, le));
  const names = bytes.subarray(strOff, strOff + strSize);
  for (let i = 0; i < shnum; i++) {
    const nameOff = dv.getUint32(shoff + i * ELF64_SHDR_SIZE, le);
    if (nameOff >= strSize) {
      fail(path, 'ELF_BAD_STRING', `section ${i}: name offset ${nameOff} past the end of the section name table (${strSize} bytes)`);
    }
    if (names.indexOf(0, nameOff) === -1) fail(path, 'ELF_BAD_STRING', `section ${i}: name at offset ${nameOff} is not NUL-terminated`);
  }

  const sections: ElfSection[] = new Array(shnum);
  for (let index = 0; index < shnum; index++) {
    const base = shoff + index * ELF64_SHDR_SIZE;
    const nameOff = dv.getUint32(base, le);
    const type = dv.getUint32(base + 4, le);
    // sh_flags is 64 bits; every flag BPF objects use is in the low 32.
    const flags = dv.getUint32(base + (le ? 8 : 12), le);
    const offset = Number(dv.getBigUint64(base + 24, le));
    const size = Number(dv.getBigUint64(base + 32, le));
    const link = dv.getUint32(base + 40, le);
    const info = dv.getUint32(base + 44, le);
    const entsize = Number(dv.getBigUint64(base + 56, le));
    const nameEnd = names.indexOf(0, nameOff);
    const name = Buffer.from(names.buffer, names.byteOffset + nameOff, nameEnd - nameOff).toString('utf8');
    // SHT_NULL's offset and size mean nothing; SHT_NOBITS occupies no file bytes.
    const data = type === SHT_NOBITS || type === SHT_NULL ? new Uint8Array(0) : bytes.subarray(offset, offset + size);
    sections[index] = { index, name, type, flags, offset, size, link, info, entsize, data };
  }
  return { path, bytes, littleEndian: le, sections };
}
