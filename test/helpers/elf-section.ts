// Test-only: pull one section's bytes out of an ELF64 file (either byte
// order), so BTF tests do not depend on the object loader under test.
import { readFileSync } from 'node:fs';

export interface ElfSection {
  bytes: Uint8Array;
  littleEndian: boolean;
}

export function elfSection(file: string | Uint8Array, name: string): ElfSection | undefined {
  const buf = typeof file === 'string' ? new Uint8Array(readFileSync(file)) : file;
  if (buf[0] !== 0x7f || buf[1] !== 0x45 || buf[2] !== 0x4c || buf[3] !== 0x46) throw new Error('not an ELF file');
  if (buf[4] !== 2) throw new Error('not ELF64');
  const le = buf[5] === 1;
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const shoff = Number(v.getBigUint64(0x28, le));
  const shentsize = v.getUint16(0x3a, le);
  const shnum = v.getUint16(0x3c, le);
  const shstrndx = v.getUint16(0x3e, le);
  const sh = (i: number) => {
    const o = shoff + i * shentsize;
    return {
      name: v.getUint32(o, le),
      offset: Number(v.getBigUint64(o + 24, le)),
      size: Number(v.getBigUint64(o + 32, le)),
    };
  };
  const strtab = sh(shstrndx);
  const dec = new TextDecoder();
  for (let i = 0; i < shnum; i++) {
    const s = sh(i);
    const start = strtab.offset + s.name;
    const n = dec.decode(buf.subarray(start, buf.indexOf(0, start)));
    if (n === name) return { bytes: buf.subarray(s.offset, s.offset + s.size), littleEndian: le };
  }
  return undefined;
}
