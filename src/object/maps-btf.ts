// BTF-defined maps (libbpf's ".maps" section). The definition is a struct
// whose members encode attributes in their types, not their values:
//   __uint(name, N)   → `int (*name)[N]`   : PTR → ARRAY with nelems = N
//   __type(name, T)   → `T *name`          : PTR → T
//   __array(name, T)  → `T *name[]`        : ARRAY (nelems 0) of PTR → T
// The bytes in .maps are all zero except the `values` slots, which carry
// relocations naming the maps or programs to put in them.

import { BpfError } from '../errors.js';
import type { Btf, BtfComposite, BtfType } from '../btf/btf.js';
import type { ElfFile, ElfSection } from './elf.js';
import { checkMapType } from './maps-legacy.js';
import type { ElfRelocation } from './relocations.js';
import { type ElfSymbol, STT_SECTION } from './symbols.js';
import type { MapSpec, Pinning } from './types.js';
import { BPF_MAP_TYPE } from '../uapi/bpf.js';

const LIBBPF_PIN_NONE = 0;
const LIBBPF_PIN_BY_NAME = 1;

function fail(elf: ElfFile, map: string, msg: string): never {
  throw new BpfError('MAP_INVALID', `${elf.path}: map ${map}: ${msg}`);
}

/** N of `int (*name)[N]`. */
function uintMember(elf: ElfFile, btf: Btf, map: string, member: string, type: number): number {
  const v = longMember(elf, btf, map, member, type);
  if (v > 0xffffffffn) fail(elf, map, `${member} is ${v}, more than 32 bits`);
  return Number(v);
}

/**
 * N of `__uint(name, N)` (a pointer to an N-element array) or of
 * `__ulong(name, N)`: an enum whose one enumerator is N (ENUM64 from clang 15
 * on; clang 14 writes a 32-bit ENUM, so larger values arrive cut), as a member
 * of that enum type (libbpf 1.4's bpf_helpers.h) or a pointer to it (an older
 * spelling some projects carry).
 */
function longMember(elf: ElfFile, btf: Btf, map: string, member: string, type: number): bigint {
  const ptr = btf.typeById(type);
  if (ptr.kind !== 'ptr' && ptr.kind !== 'enum' && ptr.kind !== 'enum64') fail(elf, map, `${member} is not declared with __uint() or __ulong()`);
  const t = ptr.kind === 'ptr' ? btf.typeById(ptr.type) : ptr;
  if (t.kind === 'array') return BigInt(t.nelems);
  const [only, ...more] = t.kind === 'enum' || t.kind === 'enum64' ? t.values : [];
  if (only !== undefined && more.length === 0) {
    const v = BigInt(only.value);
    return v < 0n ? BigInt.asUintN(64, v) : v;
  }
  fail(elf, map, `${member} is not declared with __uint() or __ulong()`);
}

/** T of `T *name`. */
function typeMember(elf: ElfFile, btf: Btf, map: string, member: string, type: number): number {
  const ptr = btf.typeById(type);
  if (ptr.kind !== 'ptr') fail(elf, map, `${member} is not declared with __type()`);
  return ptr.type;
}

function asStruct(elf: ElfFile, btf: Btf, map: string, id: number): BtfComposite {
  const t: BtfType = btf.typeById(btf.skipQualifiers(id));
  if (t.kind !== 'struct') fail(elf, map, `definition is a ${t.kind}, not a struct`);
  return t;
}

/** Decode one map definition struct. `name` is the variable's name. */
function decodeDefinition(elf: ElfFile, btf: Btf, name: string, def: BtfComposite, section: string, isInner: boolean): MapSpec {
  const spec: MapSpec = {
    name,
    type: 0,
    keySize: 0,
    valueSize: 0,
    maxEntries: 0,
    flags: 0,
    pinning: 'none',
    style: 'btf',
    section,
    btfKeyTypeId: 0,
    btfValueTypeId: 0,
    freeze: false,
  };
  let valuesMember: { type: number; bitOffset: number } | undefined;
  for (const m of def.members) {
    switch (m.name) {
      case 'type':
        spec.type = uintMember(elf, btf, name, m.name, m.type);
        break;
      case 'max_entries':
        spec.maxEntries = uintMember(elf, btf, name, m.name, m.type);
        break;
      case 'map_flags':
        spec.flags = uintMember(elf, btf, name, m.name, m.type);
        break;
      case 'numa_node':
        spec.numaNode = uintMember(elf, btf, name, m.name, m.type);
        break;
      case 'map_extra':
        spec.mapExtra = longMember(elf, btf, name, m.name, m.type);
        break;
      case 'key_size':
        spec.keySize = uintMember(elf, btf, name, m.name, m.type);
        break;
      case 'value_size':
        spec.valueSize = uintMember(elf, btf, name, m.name, m.type);
        break;
      case 'key': {
        const t = typeMember(elf, btf, name, m.name, m.type);
        spec.keySize = btf.resolveSize(t);
        spec.btfKeyTypeId = t;
        break;
      }
      case 'value': {
        const t = typeMember(elf, btf, name, m.name, m.type);
        spec.valueSize = btf.resolveSize(t);
        spec.btfValueTypeId = t;
        break;
      }
      case 'pinning': {
        const p = uintMember(elf, btf, name, m.name, m.type);
        if (p !== LIBBPF_PIN_NONE && p !== LIBBPF_PIN_BY_NAME) fail(elf, name, `pinning ${p} is not supported (use LIBBPF_PIN_BY_NAME)`);
        spec.pinning = (p === LIBBPF_PIN_BY_NAME ? 'by_name' : 'none') satisfies Pinning;
        break;
      }
      case 'values':
        valuesMember = m;
        break;
      default:
        // libbpf rejects unknown members unless relaxed_maps is set; we are relaxed: older
        // loaders accepted extra members, and the kernel never sees the definition struct.
        break;
    }
  }
  checkMapType(elf, name, spec.type);
  if (valuesMember) {
    if (isInner) fail(elf, name, 'an inner map template cannot declare values');
    const arr = btf.typeById(valuesMember.type);
    if (arr.kind !== 'array') fail(elf, name, 'values is not declared with __array()');
    const ptr = btf.typeById(btf.skipQualifiers(arr.elemType));
    if (ptr.kind !== 'ptr') fail(elf, name, 'values is not an array of pointers');
    const target = btf.typeById(btf.skipQualifiers(ptr.type));
    if (spec.type === BPF_MAP_TYPE.ARRAY_OF_MAPS || spec.type === BPF_MAP_TYPE.HASH_OF_MAPS) {
      if (target.kind !== 'struct') fail(elf, name, 'values of a map-in-map must point to a map definition struct');
      spec.innerMap = decodeDefinition(elf, btf, `${name}.inner`, target, section, true);
    } else if (spec.type === BPF_MAP_TYPE.PROG_ARRAY) {
      if (target.kind !== 'func_proto') fail(elf, name, 'values of a prog array must be function pointers');
    } else {
      fail(elf, name, 'only map-in-map and prog array maps can declare values');
    }
  }
  // Map-in-map and prog array slots hold fds; the kernel wants 4-byte keys and values.
  if (spec.type === BPF_MAP_TYPE.ARRAY_OF_MAPS || spec.type === BPF_MAP_TYPE.HASH_OF_MAPS || spec.type === BPF_MAP_TYPE.PROG_ARRAY) {
    if (spec.keySize === 0) spec.keySize = 4;
    if (spec.valueSize === 0) spec.valueSize = 4;
  }
  return spec;
}

/** Every map in the ".maps" section, with declared initial contents. */
export function readBtfMaps(elf: ElfFile, sec: ElfSection, btf: Btf | null, symbols: ElfSymbol[], relocations: ElfRelocation[]): MapSpec[] {
  if (!btf) throw new BpfError('MAP_INVALID', `${elf.path}: section .maps needs BTF, but the object has no .BTF section (build with clang -g)`);
  const datasec = btf.findByName('.maps', 'datasec');
  if (!datasec || datasec.kind !== 'datasec') throw new BpfError('MAP_INVALID', `${elf.path}: .BTF has no DATASEC for .maps`);
  const maps: MapSpec[] = [];
  const valuesAt = new Map<number, ElfRelocation>();
  for (const r of relocations) valuesAt.set(r.offset, r);
  for (const v of datasec.vars) {
    const variable = btf.typeById(v.type);
    if (variable.kind !== 'var') throw new BpfError('MAP_INVALID', `${elf.path}: .maps DATASEC entry ${v.type} is a ${variable.kind}, not a variable`);
    const name = variable.name;
    const def = asStruct(elf, btf, name, variable.type);
    const spec = decodeDefinition(elf, btf, name, def, sec.name, false);
    spec.btfDefTypeId = def.id;
    // clang leaves DATASEC offsets at 0 in objects: the symbol has the real one.
    const sym = symbols.find((s) => s.section === sec.index && s.name === name && s.type !== STT_SECTION);
    if (!sym) throw new BpfError('MAP_INVALID', `${elf.path}: map ${name} has BTF but no symbol in .maps`);
    const defSize = sym.size || btf.resolveSize(def.id);
    if (sym.value + defSize > sec.size) {
      throw new BpfError('MAP_INVALID', `${elf.path}: map ${name}: definition of ${defSize} bytes at offset ${sym.value} does not fit section ${sec.name} (${sec.size} bytes)`);
    }
    const values = def.members.find((m) => m.name === 'values');
    if (values) {
      const first = sym.value + values.bitOffset / 8;
      const slotsEnd = sym.value + defSize;
      const contents: NonNullable<MapSpec['contents']> = [];
      // Walk the relocations, not the slots: a bogus size must not make this loop long.
      for (const [off, r] of valuesAt) {
        if (off < first || off >= slotsEnd || (off - first) % 8 !== 0) continue;
        const targetSec = elf.sections[r.symbol.section];
        const kind = targetSec && targetSec.name === sec.name ? 'map' : 'program';
        contents.push({ key: (off - first) / 8, target: r.symbol.name, kind });
      }
      contents.sort((a, b) => a.key - b.key);
      if (contents.length > 0) spec.contents = contents;
    }
    maps.push(spec);
  }
  return maps;
}
