// Extern symbols: what an object expects the loader to find in the running
// kernel. clang leaves them undefined in .symtab and describes them in BTF:
// `extern … __kconfig` variables in DATASEC ".kconfig", `extern … __ksym`
// variables and kfunc prototypes in DATASEC ".ksyms". Parsing only records
// them (so `inspect` works without a kernel); the loader resolves them.
// .kconfig externs live in one synthesized read-only array map, ".kconfig",
// laid out as libbpf lays it out (each value at its natural alignment).

import type { Btf } from '../btf/btf.js';
import { SHN_UNDEF, STB_GLOBAL, STB_WEAK, STT_SECTION, type ElfSymbol } from './symbols.js';
import type { ExternSpec, KconfigType, MapSpec } from './types.js';
import { BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, BPF_MAP_TYPE } from '../uapi/bpf.js';

export const KCONFIG_MAP = '.kconfig';

/** The value kind of a .kconfig extern, from its BTF type (libbpf's find_kcfg_type). */
function kconfigType(btf: Btf, typeId: number): { type: KconfigType; size: number; align: number; signed: boolean } {
  const id = btf.skipQualifiers(typeId);
  const t = btf.typeById(id);
  if (t.kind === 'int') {
    if (t.encoding.bool && t.size === 1) return { type: 'bool', size: 1, align: 1, signed: false };
    if (t.encoding.char && t.size === 1) return { type: 'char', size: 1, align: 1, signed: t.encoding.signed };
    if ([1, 2, 4, 8].includes(t.size)) return { type: 'int', size: t.size, align: t.size, signed: t.encoding.signed };
  }
  if (t.kind === 'enum' && t.size === 4) {
    const names = t.values.map((v) => v.name);
    if (t.name === 'libbpf_tristate' || (names.includes('TRI_NO') && names.includes('TRI_YES'))) return { type: 'tristate', size: 4, align: 4, signed: false };
    return { type: 'int', size: 4, align: 4, signed: t.signed };
  }
  if (t.kind === 'array' && t.nelems > 0) {
    const e = btf.typeById(btf.skipQualifiers(t.elemType));
    if (e.kind === 'int' && e.size === 1 && (e.encoding.char || !e.encoding.bool)) return { type: 'string', size: t.nelems, align: 1, signed: false };
  }
  let size = 0;
  try {
    size = btf.resolveSize(id);
  } catch {
    size = 0;
  }
  return { type: 'unsupported', size, align: 1, signed: false };
}

function isExternSymbol(s: ElfSymbol): boolean {
  return s.section === SHN_UNDEF && s.name !== '' && s.type !== STT_SECTION && (s.bind === STB_GLOBAL || s.bind === STB_WEAK);
}

/** Every extern of the object, and the ".kconfig" map when it has .kconfig externs. */
export function readExterns(btf: Btf | null, symbols: ElfSymbol[]): { externs: ExternSpec[]; kconfigMap: MapSpec | null } {
  const inSec = new Map<string, { sec: string; id: number }>();
  let kconfigDatasecId = 0;
  if (btf) {
    for (const secName of ['.kconfig', '.ksyms']) {
      const ds = btf.findByName(secName, 'datasec');
      if (!ds || ds.kind !== 'datasec') continue;
      if (secName === '.kconfig') kconfigDatasecId = ds.id;
      for (const v of ds.vars) {
        const t = btf.typeById(v.type);
        if (t.name) inSec.set(t.name, { sec: secName, id: t.id });
      }
    }
  }
  const externs: ExternSpec[] = [];
  const seen = new Set<string>();
  let kconfigSize = 0;
  for (const s of symbols) {
    if (!isExternSymbol(s) || seen.has(s.name)) continue;
    seen.add(s.name);
    const weak = s.bind === STB_WEAK;
    const where = inSec.get(s.name);
    if (!btf || !where) {
      externs.push({ name: s.name, kind: 'unknown', weak, btfTypeId: 0 });
      continue;
    }
    const t = btf.typeById(where.id);
    if (where.sec === '.kconfig' && t.kind === 'var') {
      const k = kconfigType(btf, t.type);
      const offset = Math.ceil(kconfigSize / k.align) * k.align;
      kconfigSize = offset + k.size;
      externs.push({ name: s.name, kind: 'kconfig', weak, btfTypeId: t.id, kconfig: { offset, size: k.size, type: k.type, signed: k.signed } });
    } else if (t.kind === 'func') {
      externs.push({ name: s.name, kind: 'kfunc', weak, btfTypeId: t.id });
    } else if (t.kind === 'var') {
      const typeless = btf.typeById(btf.skipQualifiers(t.type)).kind === 'void';
      externs.push({ name: s.name, kind: 'ksym', weak, btfTypeId: t.id, typeless });
    } else {
      externs.push({ name: s.name, kind: 'unknown', weak, btfTypeId: t.id });
    }
  }
  let kconfigMap: MapSpec | null = null;
  const kc = externs.filter((e) => e.kind === 'kconfig');
  if (kc.length > 0) {
    const valueSize = Math.max(kconfigSize, 1);
    kconfigMap = {
      name: KCONFIG_MAP,
      type: BPF_MAP_TYPE.ARRAY,
      keySize: 4,
      valueSize,
      maxEntries: 1,
      flags: BPF_F_MMAPABLE | BPF_F_RDONLY_PROG,
      pinning: 'none',
      style: 'data',
      section: KCONFIG_MAP,
      btfKeyTypeId: 0,
      btfValueTypeId: kconfigDatasecId,
      initialValue: new Uint8Array(valueSize),
      variables: kc.map((e) => ({ name: e.name, offset: e.kconfig!.offset, size: e.kconfig!.size, btfTypeId: e.btfTypeId })),
      freeze: true,
    };
  }
  return { externs, kconfigMap };
}
