// clang writes DATASEC records with size 0 and every variable at offset 0:
// the real layout is only known from the ELF section and symbol tables. The
// kernel rejects such BTF, so (as libbpf does) a copy of the blob is patched
// with section sizes and symbol offsets, variables sorted by offset.

import type { Btf } from './btf/btf.js';
import type { ElfFile } from './elf.js';
import { type ElfSymbol, STT_SECTION } from './symbols.js';

const BTF_TYPE_SIZE = 12;
const SECINFO_SIZE = 12;

/** A copy of `btf.raw` whose DATASECs match the object's sections. */
export function fixupDatasecs(btf: Btf, elf: ElfFile, symbols: ElfSymbol[]): Uint8Array {
  const raw = btf.raw.slice();
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const le = btf.littleEndian;
  for (let id = btf.startId; id < btf.count; id++) {
    if (btf.kindOf(id) !== 'datasec') continue;
    const ds = btf.typeById(id);
    if (ds.kind !== 'datasec') continue;
    const sec = elf.sections.find((s) => s.name === ds.name);
    if (!sec) continue; // .kconfig, .ksyms: externs with no section
    const rec = btf.recordOffset(id);
    dv.setUint32(rec + 8, sec.size, le);
    const vars = ds.vars.map((v) => {
      const t = btf.typeById(v.type);
      const sym = t.kind === 'var' ? symbols.find((s) => s.section === sec.index && s.name === t.name && s.type !== STT_SECTION) : undefined;
      return { type: v.type, offset: sym ? sym.value : v.offset, size: v.size };
    });
    vars.sort((a, b) => a.offset - b.offset);
    vars.forEach((v, i) => {
      const at = rec + BTF_TYPE_SIZE + i * SECINFO_SIZE;
      dv.setUint32(at, v.type, le);
      dv.setUint32(at + 4, v.offset, le);
      dv.setUint32(at + 8, v.size, le);
    });
  }
  return raw;
}
