// Parse a clang-built BPF object into the object model. Pure: bytes in,
// description out; no file or kernel access.

import { BpfError } from '../errors.js';
import { type Btf, parseBtf } from '../btf/btf.js';
import { type BtfExt, parseBtfExt } from '../btf/ext.js';
import { fixupDatasecs } from './btf-datasec.js';
import { KCONFIG_MAP, readExterns } from './externs.js';
import { isStructOpsSection, readStructOpsMaps } from './maps-struct-ops.js';
import { type ElfFile, type ElfSection, readElf, SHT_NOBITS } from './elf.js';
import { isLegacyMapSection, legacyMapAt, readLegacyMaps } from './maps-legacy.js';
import { readBtfMaps } from './maps-btf.js';
import { isDataSection, readDataMap } from './maps-data.js';
import { readPrograms } from './programs.js';
import { readRelocations } from './relocations.js';
import { type ElfSymbol, SHN_UNDEF, STT_SECTION, readSymbols } from './symbols.js';
import type { BpfObjectFile, MapSpec, ProgramRelocation } from './types.js';
import { BPF_MAP_TYPE } from '../uapi/bpf.js';

function section(elf: ElfFile, name: string): ElfSection | undefined {
  return elf.sections.find((s) => s.name === name);
}

function readLicense(elf: ElfFile): string | null {
  const s = section(elf, 'license');
  if (!s) return null;
  const end = s.data.indexOf(0);
  return Buffer.from(s.data.subarray(0, end < 0 ? s.data.length : end)).toString('latin1');
}

function readKernelVersion(elf: ElfFile): number | null {
  const s = section(elf, 'version');
  if (!s) return null;
  if (s.data.byteLength !== 4) throw new BpfError('ELF_BAD_SECTION', `${elf.path}: version section is ${s.data.byteLength} bytes, expected 4`);
  return new DataView(s.data.buffer, s.data.byteOffset, 4).getUint32(0, elf.littleEndian);
}

function readBtf(elf: ElfFile): { btf: Btf | null; btfExt: BtfExt | null } {
  const b = section(elf, '.BTF');
  if (!b) return { btf: null, btfExt: null };
  // parseBtf / parseBtfExt add ".BTF: " / ".BTF.ext: " after the source themselves.
  const btf = parseBtf(b.data, { littleEndian: elf.littleEndian, source: elf.path });
  const e = section(elf, '.BTF.ext');
  const btfExt = e ? parseBtfExt(e.data, btf, { littleEndian: elf.littleEndian, source: elf.path }) : null;
  return { btf, btfExt };
}

/** Parse a BPF ELF object. `path` labels error messages. */
export function parseObject(bytes: Uint8Array, path = '<object>'): BpfObjectFile {
  const elf = readElf(bytes, path);
  const symbols = readSymbols(elf);
  const relocations = readRelocations(elf, symbols);
  const { btf, btfExt } = readBtf(elf);

  const maps: MapSpec[] = [];
  const warnings: string[] = [];
  for (const sec of elf.sections) {
    if (isLegacyMapSection(sec)) maps.push(...readLegacyMaps(elf, sec, symbols, warnings));
    else if (sec.name === '.maps') maps.push(...readBtfMaps(elf, sec, btf, symbols, relocations.get(sec.index) ?? []));
    else if (isStructOpsSection(sec)) maps.push(...readStructOpsMaps(elf, sec, btf, symbols, relocations.get(sec.index) ?? []));
    else if (isDataSection(sec)) {
      const m = readDataMap(sec, btf, symbols, path);
      if (m) maps.push(m);
    }
  }
  const { externs, kconfigMap } = readExterns(btf, symbols);
  if (kconfigMap) maps.push(kconfigMap);
  const seen = new Set<string>();
  for (const m of maps) {
    if (seen.has(m.name)) throw new BpfError('MAP_INVALID', `${path}: two maps are named ${m.name}`);
    seen.add(m.name);
  }

  // insnIndex is filled in by the program linker, which knows where the instruction lands.
  const resolveMap = (rel: { symbol: ElfSymbol }, imm: number): ProgramRelocation | null => {
    const sym = rel.symbol;
    if (sym.section === SHN_UNDEF) {
      // .kconfig externs are values in the ".kconfig" map; the rest resolve against the kernel.
      const k = externs.find((e) => e.name === sym.name && e.kind === 'kconfig');
      if (k) return { kind: 'map_value', insnIndex: -1, map: KCONFIG_MAP, offset: k.kconfig!.offset + imm };
      return { kind: 'extern', insnIndex: -1, symbol: sym.name };
    }
    const sec = elf.sections[sym.section];
    if (!sec) return null;
    if (isLegacyMapSection(sec)) {
      const m = legacyMapAt(maps, symbols, sec, sym, imm);
      return m ? { kind: 'map_fd', insnIndex: -1, map: m.name } : null;
    }
    if (sec.name === '.maps') {
      const m = sym.type !== STT_SECTION ? maps.find((x) => x.section === '.maps' && x.name === sym.name) : undefined;
      return m ? { kind: 'map_fd', insnIndex: -1, map: m.name } : null;
    }
    if (sec.name === ARENA_SECTION) {
      // An arena global (`__arena`, address_space(1)): a value in the object's one arena map.
      const arenas = maps.filter((x) => x.type === BPF_MAP_TYPE.ARENA);
      if (arenas.length !== 1) {
        throw new BpfError(
          'ELF_BAD_RELOCATION',
          `${path}: ${sym.name || 'a symbol'} is an arena global (${ARENA_SECTION}), which needs exactly one BPF_MAP_TYPE_ARENA map in the object (it has ${arenas.length})`,
        );
      }
      const offset = imm + (sym.type === STT_SECTION ? 0 : sym.value);
      if (offset < 0 || offset >= sec.size) return null;
      return { kind: 'map_value', insnIndex: -1, map: arenas[0]!.name, offset, arena: true };
    }
    if (isDataSection(sec)) {
      const m = maps.find((x) => x.style === 'data' && x.section === sec.name);
      if (!m) return null;
      const offset = imm + (sym.type === STT_SECTION ? 0 : sym.value);
      if (offset < 0 || offset >= m.valueSize) return null;
      return { kind: 'map_value', insnIndex: -1, map: m.name, offset };
    }
    return null;
  };

  const programs = readPrograms({
    elf,
    symbols,
    relocations,
    btfExt,
    btfFuncId: (name) => {
      const f = btf?.findByName(name, 'func');
      return f ? f.id : 0;
    },
    exceptionCallback: (name) => {
      const f = btf?.findByName(name, 'func');
      return f ? exceptionCallbacks(btf!).get(f.id) : undefined;
    },
    resolveMap,
  });
  for (const p of programs) {
    for (const r of p.relocations) {
      if ((r.kind === 'map_fd' || r.kind === 'map_value') && !maps.some((m) => m.name === r.map)) {
        throw new BpfError('ELF_BAD_RELOCATION', `${path}: program ${p.name} refers to missing map ${r.map}`);
      }
    }
  }

  const arenaSec = elf.sections.find((x) => x.name === ARENA_SECTION);
  return {
    path,
    littleEndian: elf.littleEndian,
    license: readLicense(elf),
    kernelVersion: readKernelVersion(elf),
    programs,
    maps,
    btf,
    btfExt,
    btfForKernel: btf ? fixupDatasecs(btf, elf, symbols, externs) : null,
    externs,
    warnings,
    ...(arenaSec ? { arenaData: arenaSec.type === SHT_NOBITS ? new Uint8Array(arenaSec.size) : arenaSec.data.slice() } : {}),
  };
}

/** clang's section for address_space(1) globals: the arena's. */
const ARENA_SECTION = '.addr_space.1';

const EXCEPTION_CB = 'exception_callback:';
const exceptionCallbackCache = new WeakMap<Btf, Map<number, string>>();

/** FUNC id -> the callback its "exception_callback:NAME" decl tag names (bpf_experimental.h's __exception_cb). */
function exceptionCallbacks(btf: Btf): Map<number, string> {
  let m = exceptionCallbackCache.get(btf);
  if (m) return m;
  m = new Map();
  for (let id = btf.startId; id < btf.count; id++) {
    if (btf.kindOf(id) !== 'decl_tag') continue;
    const t = btf.typeById(id);
    if (t.kind === 'decl_tag' && t.componentIdx === -1 && t.name.startsWith(EXCEPTION_CB)) m.set(t.type, t.name.slice(EXCEPTION_CB.length));
  }
  exceptionCallbackCache.set(btf, m);
  return m;
}
