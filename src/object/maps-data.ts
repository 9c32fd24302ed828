// Global variables. Each .data, .rodata, .bss (and .data.* / .rodata.*)
// section becomes a single-entry array map holding the section's bytes; the
// program reaches its variables through ld_imm64 BPF_PSEUDO_MAP_VALUE.
// .rodata is frozen after its initial value is written, which is what lets
// the verifier treat `const volatile` configuration as constants.

import { BpfError } from '../errors.js';
import type { Btf } from '../btf/btf.js';
import { type ElfSection, SHF_EXECINSTR, SHT_NOBITS, SHT_PROGBITS } from './elf.js';
import { type ElfSymbol, STT_SECTION } from './symbols.js';
import type { DataVariable, MapSpec } from './types.js';
import { BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, BPF_MAP_TYPE } from '../uapi/bpf.js';

export function isDataSection(s: ElfSection): boolean {
  if (s.flags & SHF_EXECINSTR) return false;
  if (s.type !== SHT_PROGBITS && s.type !== SHT_NOBITS) return false;
  const n = s.name;
  return n === '.data' || n === '.rodata' || n === '.bss' || n.startsWith('.data.') || n.startsWith('.rodata.') || n.startsWith('.bss.');
}

// .bss is SHT_NOBITS: its size is not backed by file bytes, so a corrupt
// sh_size would make us allocate gigabytes. value_size is a u32 and the kernel
// caps array values far lower (KMALLOC_MAX_SIZE, a few MiB); 1 GiB is generous.
const MAX_DATA_SECTION_SIZE = 1 << 30;

export function readDataMap(sec: ElfSection, btf: Btf | null, symbols: ElfSymbol[], path = '<object>'): MapSpec | null {
  if (sec.size === 0) return null;
  if (sec.size > MAX_DATA_SECTION_SIZE) {
    throw new BpfError('MAP_INVALID', `${path}: section ${sec.name} is ${sec.size} bytes, too large for a global data map`);
  }
  const readonly = sec.name === '.rodata' || sec.name.startsWith('.rodata.');
  const datasec = btf?.findByName(sec.name, 'datasec');
  const btfVars = new Map<string, number>();
  if (btf && datasec && datasec.kind === 'datasec') {
    for (const v of datasec.vars) {
      const t = btf.typeById(v.type);
      if (t.kind === 'var') btfVars.set(t.name, t.type);
    }
  }
  const variables: DataVariable[] = symbols
    .filter((s) => s.section === sec.index && s.type !== STT_SECTION && s.name !== '' && s.size > 0)
    .map((s) => ({ name: s.name, offset: s.value, size: s.size, btfTypeId: btfVars.get(s.name) ?? 0 }))
    .sort((a, b) => a.offset - b.offset);
  const initial = new Uint8Array(sec.size);
  if (sec.type !== SHT_NOBITS) initial.set(sec.data);
  return {
    name: sec.name,
    type: BPF_MAP_TYPE.ARRAY,
    keySize: 4,
    valueSize: sec.size,
    maxEntries: 1,
    flags: BPF_F_MMAPABLE | (readonly ? BPF_F_RDONLY_PROG : 0),
    pinning: 'none',
    style: 'data',
    section: sec.name,
    btfKeyTypeId: 0,
    btfValueTypeId: datasec?.id ?? 0,
    initialValue: initial,
    variables,
    freeze: readonly,
  };
}
