// Maps defined as C structs in a "maps" section, the style before BTF.
// Loaders disagreed on the struct, so each definition is sized from its
// symbol and read by the layout that size implies:
//   20 bytes  libbpf's legacy struct bpf_map_def (5 × u32)
//   28 bytes  samples/bpf's bpf_load.c (+ inner_map_idx, numa_node)
//   36 bytes  iproute2's struct bpf_elf_map (+ id, pinning, inner_id, inner_idx)
//   280 bytes goebpf (+ pinning, char namespace[256])
// Any other size ≥ 20: the five common fields, the rest ignored — with a
// warning when the ignored bytes are not zero (a field some loader knew).

import { BpfError } from '../errors.js';
import type { ElfFile, ElfSection } from './elf.js';
import { type ElfSymbol, STT_SECTION } from './symbols.js';
import type { MapSpec, Pinning } from './types.js';
import { MAP_TYPE_NAMES } from '../uapi/bpf.js';

export const LEGACY_MAP_DEF_SIZE = 20;
export const SAMPLES_MAP_DEF_SIZE = 28;
export const BPF_ELF_MAP_SIZE = 36;
export const GOEBPF_MAP_DEF_SIZE = 280;

// iproute2 (and goebpf) pinning values.
const PIN_NONE = 0;
const PIN_OBJECT_NS = 1;
const PIN_GLOBAL_NS = 2;

export function isLegacyMapSection(s: ElfSection): boolean {
  return s.name === 'maps' || s.name.startsWith('maps/');
}

function pinningOf(elf: ElfFile, name: string, v: number): Pinning {
  if (v === PIN_NONE) return 'none';
  if (v === PIN_OBJECT_NS) return 'object';
  if (v === PIN_GLOBAL_NS) return 'global';
  throw new BpfError('MAP_INVALID', `${elf.path}: map ${name}: pinning ${v} is not supported (iproute2 custom pinning); use 0, 1 (object) or 2 (global)`);
}

export function checkMapType(elf: ElfFile, name: string, type: number): void {
  if (type <= 0 || type >= MAP_TYPE_NAMES.length) {
    throw new BpfError('MAP_UNKNOWN_TYPE', `${elf.path}: map ${name}: unknown map type ${type}`);
  }
}

/** Read every definition in one legacy maps section. */
export function readLegacyMaps(elf: ElfFile, sec: ElfSection, symbols: ElfSymbol[], warnings: string[] = []): MapSpec[] {
  const syms = symbols.filter((s) => s.section === sec.index && s.type !== STT_SECTION && s.name !== '').sort((a, b) => a.value - b.value);
  if (syms.length === 0) return [];
  // Old compilers leave st_size at 0: then the definitions share the section evenly.
  const evenSize = Math.floor(sec.size / syms.length);
  const le = elf.littleEndian;
  const dv = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
  return syms.map((sym) => {
    const size = sym.size || evenSize;
    if (size < LEGACY_MAP_DEF_SIZE || sym.value + size > sec.data.byteLength) {
      throw new BpfError(
        'MAP_INVALID',
        `${elf.path}: map ${sym.name}: definition of ${size} bytes at offset ${sym.value} does not fit section ${sec.name} (${sec.data.byteLength} bytes; need at least ${LEGACY_MAP_DEF_SIZE})`,
      );
    }
    const u32 = (i: number) => dv.getUint32(sym.value + i * 4, le);
    const spec: MapSpec = {
      name: sym.name,
      type: u32(0),
      keySize: u32(1),
      valueSize: u32(2),
      maxEntries: u32(3),
      flags: u32(4),
      pinning: 'none',
      style: 'legacy',
      section: sec.name,
      btfKeyTypeId: 0,
      btfValueTypeId: 0,
      freeze: false,
    };
    checkMapType(elf, sym.name, spec.type);
    if (size === BPF_ELF_MAP_SIZE) {
      spec.style = 'iproute2';
      spec.pinning = pinningOf(elf, sym.name, u32(6));
      spec.iproute2 = { id: u32(5), innerId: u32(7), innerIdx: u32(8) };
    } else if (size === GOEBPF_MAP_DEF_SIZE) {
      spec.pinning = pinningOf(elf, sym.name, u32(5));
    } else if (size === SAMPLES_MAP_DEF_SIZE) {
      spec.numaNode = u32(6);
      if (u32(5) !== 0) warnings.push(`${elf.path}: map ${sym.name}: inner_map_idx ${u32(5)} (samples/bpf map-in-map) is ignored; declare map-in-map with BTF (__array(values, …))`);
    } else if (size !== LEGACY_MAP_DEF_SIZE && size !== GOEBPF_MAP_DEF_SIZE) {
      const extra = sec.data.subarray(sym.value + LEGACY_MAP_DEF_SIZE, sym.value + size);
      const nz = extra.findIndex((b) => b !== 0);
      if (nz >= 0) {
        warnings.push(
          `${elf.path}: map ${sym.name}: definition is ${size} bytes; bytes ${LEGACY_MAP_DEF_SIZE}..${size - 1} are fields bpf-ts does not know and are not zero (first at byte ${LEGACY_MAP_DEF_SIZE + nz}); they are ignored`,
        );
      }
    }
    return spec;
  });
}

/** The map a "maps"-section relocation points at: by the symbol, or by offset for section symbols. */
export function legacyMapAt(maps: MapSpec[], symbols: ElfSymbol[], sec: ElfSection, sym: ElfSymbol, imm: number): MapSpec | undefined {
  if (sym.type !== STT_SECTION) return maps.find((m) => m.section === sec.name && m.name === sym.name);
  const offset = sym.value + imm;
  const def = symbols.find((s) => s.section === sec.index && s.type !== STT_SECTION && s.value === offset && s.name);
  return def && maps.find((m) => m.section === sec.name && m.name === def.name);
}
