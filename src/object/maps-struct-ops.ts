// struct_ops maps: a global variable in ".struct_ops" (or ".struct_ops.link",
// registered through a bpf_link) whose type is a kernel struct of function
// pointers, e.g. `struct tcp_congestion_ops`. Its function pointers are
// R_BPF_64_ABS64 relocations to programs in "struct_ops/…" sections; its
// other members (a name, flags) are plain bytes. The kernel map's value is
// the kernel's own `struct bpf_struct_ops_<name>`, known only at load.
// libbpf's "?.struct_ops" and "?.struct_ops.link" hold maps not created
// unless asked for (autocreate false), with their programs.

import { BpfError } from '../errors.js';
import type { Btf } from '../btf/btf.js';
import type { ElfFile, ElfSection } from './elf.js';
import type { ElfRelocation } from './relocations.js';
import { STT_FUNC, STT_SECTION, type ElfSymbol } from './symbols.js';
import type { MapSpec } from './types.js';
import { BPF_MAP_TYPE } from '../uapi/bpf.js';

/** BPF_F_LINK: a .struct_ops.link map is registered by BPF_LINK_CREATE, not by its update. */
export const BPF_F_LINK = 1 << 13;

const STRUCT_OPS_SECTIONS: ReadonlySet<string> = new Set(['.struct_ops', '.struct_ops.link', '?.struct_ops', '?.struct_ops.link']);

export function isStructOpsSection(s: ElfSection): boolean {
  return STRUCT_OPS_SECTIONS.has(s.name);
}

export function readStructOpsMaps(elf: ElfFile, sec: ElfSection, btf: Btf | null, symbols: ElfSymbol[], relocs: ElfRelocation[]): MapSpec[] {
  const vars = symbols.filter((s) => s.section === sec.index && s.type !== STT_SECTION && s.type !== STT_FUNC && s.name !== '');
  if (vars.length === 0) return [];
  if (!btf) throw new BpfError('MAP_INVALID', `${elf.path}: ${sec.name} needs BTF to say which kernel struct each map implements (build with -g)`);
  const ds = btf.findByName(sec.name, 'datasec');
  return vars.map((sym) => {
    const v = ds && ds.kind === 'datasec' ? ds.vars.map((x) => btf.typeById(x.type)).find((t) => t.kind === 'var' && t.name === sym.name) : undefined;
    if (!v || v.kind !== 'var') throw new BpfError('MAP_INVALID', `${elf.path}: ${sec.name} variable ${sym.name} has no BTF VAR`);
    const st = btf.typeById(btf.skipQualifiers(v.type));
    if (st.kind !== 'struct') throw new BpfError('MAP_INVALID', `${elf.path}: struct_ops map ${sym.name} is a ${st.kind}, not a struct`);
    if (sym.value + st.size > sec.data.byteLength) {
      throw new BpfError('MAP_INVALID', `${elf.path}: struct_ops map ${sym.name} (${st.size} bytes at ${sym.value}) does not fit ${sec.name}`);
    }
    const funcs: { member: string; program: string }[] = [];
    for (const r of relocs) {
      if (r.offset < sym.value || r.offset >= sym.value + st.size) continue;
      const at = (r.offset - sym.value) * 8;
      const m = st.members.find((x) => x.bitOffset === at);
      if (!m) throw new BpfError('MAP_INVALID', `${elf.path}: struct_ops map ${sym.name}: a function pointer at byte ${at / 8} is not at a member of struct ${st.name}`);
      funcs.push({ member: m.name, program: r.symbol.name });
    }
    const link = sec.name.endsWith('.link');
    return {
      name: sym.name,
      type: BPF_MAP_TYPE.STRUCT_OPS,
      keySize: 4,
      // The object's struct, as libbpf reports it before load; the kernel map's value is
      // the wider bpf_struct_ops_<name>, known only at load.
      valueSize: st.size,
      maxEntries: 1,
      flags: link ? BPF_F_LINK : 0,
      pinning: 'none',
      style: 'struct_ops',
      section: sec.name,
      btfKeyTypeId: 0,
      btfValueTypeId: 0,
      freeze: false,
      ...(sec.name.startsWith('?') ? { autocreate: false } : {}),
      structOps: { typeName: st.name, btfTypeId: st.id, data: sec.data.slice(sym.value, sym.value + st.size), funcs, link },
    } satisfies MapSpec;
  });
}
