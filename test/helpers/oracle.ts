// Independent "oracle" for the object tests: parses the text that
// `llvm-readelf-19 --sections --symbols --relocations` printed for each
// fixture (fixtures/NAME[.variant].readelf.txt, made by bpf/Makefile) into
// plain objects. Nothing here uses src/: the point is to compare our ELF
// reader against another tool's reading of the same bytes.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURES = join(ROOT, 'fixtures');

export interface OracleSection {
  index: number;
  name: string;
  /** readelf's spelling: NULL, PROGBITS, NOBITS, SYMTAB, STRTAB, REL, LLVM_ADDRSIG, … */
  type: string;
  offset: number;
  size: number;
  entsize: number;
  /** readelf's flag letters, e.g. "AX", "WA", "" */
  flags: string;
  link: number;
  info: number;
  align: number;
}

export interface OracleSymbol {
  num: number;
  value: number;
  size: number;
  /** NOTYPE, OBJECT, FUNC, SECTION, FILE */
  type: string;
  /** LOCAL, GLOBAL, WEAK */
  bind: string;
  vis: string;
  /** Section index, or UND / ABS / COM. */
  ndx: number | 'UND' | 'ABS' | 'COM';
  /** readelf prints a section symbol under its section's name. */
  name: string;
}

export interface OracleRelocation {
  offset: number;
  /** r_info >> 32 */
  symbolIndex: number;
  /** r_info & 0xffffffff */
  typeNumber: number;
  /** R_BPF_64_64, R_BPF_64_32, R_BPF_64_ABS64, … */
  type: string;
  symbolValue: number;
  symbolName: string;
}

export interface ReadelfOracle {
  sections: OracleSection[];
  symbols: OracleSymbol[];
  /** Keyed by the relocation section's name, e.g. ".relxdp". */
  relocations: Map<string, OracleRelocation[]>;
}

const hex = (s: string): number => {
  const n = Number.parseInt(s, 16);
  if (!Number.isFinite(n)) throw new Error(`oracle: bad hex ${s}`);
  return n;
};

// [Nr] Name Type Address Off Size ES Flg Lk Inf Al. The name may be empty
// (section 0) or long enough to touch the type column.
const SECTION_RE = /^\s*\[\s*(\d+)\]\s(.*?)\s+([A-Z][A-Z0-9_]*|0x[0-9a-f]+)\s+([0-9a-f]{16})\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([A-Za-z]*)\s+(\d+)\s+(\d+)\s+(\d+)\s*$/;
// Num: Value Size Type Bind Vis Ndx Name
const SYMBOL_RE = /^\s*(\d+):\s+([0-9a-f]{16})\s+(\d+|0x[0-9a-f]+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)(?: (.*))?$/;
// Offset Info Type Symbol's-Value Symbol's-Name
const RELOC_RE = /^([0-9a-f]{16})\s+([0-9a-f]{16})\s+(\S+)\s+([0-9a-f]{16})\s*(.*)$/;

/** Parse one readelf dump. Throws when the counts readelf announces do not match what was parsed. */
export function parseReadelf(text: string): ReadelfOracle {
  const lines = text.split('\n');
  const sections: OracleSection[] = [];
  const symbols: OracleSymbol[] = [];
  const relocations = new Map<string, OracleRelocation[]>();
  let expectSections = -1;
  let expectSymbols = -1;
  let mode: 'none' | 'sections' | 'symbols' | 'relocs' = 'none';
  let relocList: OracleRelocation[] | null = null;
  const relocCounts = new Map<string, number>();

  for (const line of lines) {
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^There are (\d+) section headers/))) {
      expectSections = Number(m[1]);
      continue;
    }
    if (line.startsWith('Section Headers:')) {
      mode = 'sections';
      continue;
    }
    if ((m = line.match(/^Relocation section '([^']*)' at offset 0x[0-9a-f]+ contains (\d+) entries:/))) {
      mode = 'relocs';
      relocList = [];
      relocations.set(m[1]!, relocList);
      relocCounts.set(m[1]!, Number(m[2]));
      continue;
    }
    if ((m = line.match(/^Symbol table '([^']*)' contains (\d+) entries:/))) {
      mode = 'symbols';
      expectSymbols = Number(m[2]);
      continue;
    }
    if (mode === 'sections' && (m = line.match(SECTION_RE))) {
      sections.push({
        index: Number(m[1]),
        name: m[2]!.trim(),
        type: m[3]!,
        offset: hex(m[5]!),
        size: hex(m[6]!),
        entsize: hex(m[7]!),
        flags: m[8]!,
        link: Number(m[9]),
        info: Number(m[10]),
        align: Number(m[11]),
      });
    } else if (mode === 'symbols' && (m = line.match(SYMBOL_RE))) {
      const ndx = m[7]!;
      symbols.push({
        num: Number(m[1]),
        value: hex(m[2]!),
        size: m[3]!.startsWith('0x') ? hex(m[3]!.slice(2)) : Number(m[3]),
        type: m[4]!,
        bind: m[5]!,
        vis: m[6]!,
        ndx: ndx === 'UND' || ndx === 'ABS' || ndx === 'COM' ? ndx : Number(ndx),
        name: m[8] ?? '',
      });
    } else if (mode === 'relocs' && relocList && (m = line.match(RELOC_RE))) {
      const info = BigInt('0x' + m[2]!);
      relocList.push({
        offset: hex(m[1]!),
        symbolIndex: Number(info >> 32n),
        typeNumber: Number(info & 0xffffffffn),
        type: m[3]!,
        symbolValue: hex(m[4]!),
        symbolName: m[5]!.trim(),
      });
    }
  }

  // Self-checks: a regex that silently skips lines would make the oracle lie.
  if (expectSections !== sections.length) throw new Error(`oracle: expected ${expectSections} sections, parsed ${sections.length}`);
  sections.forEach((s, i) => {
    if (s.index !== i) throw new Error(`oracle: section ${i} parsed as [${s.index}]`);
  });
  if (expectSymbols !== symbols.length) throw new Error(`oracle: expected ${expectSymbols} symbols, parsed ${symbols.length}`);
  symbols.forEach((s, i) => {
    if (s.num !== i) throw new Error(`oracle: symbol ${i} parsed as ${s.num}`);
  });
  for (const [name, n] of relocCounts) {
    if (relocations.get(name)!.length !== n) throw new Error(`oracle: ${name}: expected ${n} relocations, parsed ${relocations.get(name)!.length}`);
  }
  return { sections, symbols, relocations };
}

export interface Fixture {
  /** File name, e.g. "tc_shared_map.bpfeb.o". */
  file: string;
  /** Source name, e.g. "tc_shared_map" (bpf/tc_shared_map.c). */
  base: string;
  /** '' for the clang-19 bpfel build, else "bpfeb" / "clang14" / … */
  variant: string;
  path: string;
  readelfPath: string;
  btfPath: string;
}

/** Every fixtures/*.o, with where its oracle dumps would be (they may be missing). */
export function listFixtures(): Fixture[] {
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.o'))
    .sort()
    .map((file) => {
      const stem = file.slice(0, -2);
      const dot = stem.indexOf('.');
      const base = dot < 0 ? stem : stem.slice(0, dot);
      const variant = dot < 0 ? '' : stem.slice(dot + 1);
      return {
        file,
        base,
        variant,
        path: join(FIXTURES, file),
        readelfPath: join(FIXTURES, `${stem}.readelf.txt`),
        btfPath: join(FIXTURES, `${stem}.btf.txt`),
      };
    });
}

/** Fixtures whose readelf dump exists. */
export function fixturesWithOracle(): (Fixture & { oracle: ReadelfOracle })[] {
  return listFixtures()
    .filter((f) => existsSync(f.readelfPath))
    .map((f) => ({ ...f, oracle: parseReadelf(readFileSync(f.readelfPath, 'utf8')) }));
}

// --- Questions the tests ask of an oracle --------------------------------

export function sectionByIndex(o: ReadelfOracle, ndx: OracleSymbol['ndx']): OracleSection | undefined {
  return typeof ndx === 'number' ? o.sections[ndx] : undefined;
}

export function isExecutable(s: OracleSection): boolean {
  return s.type === 'PROGBITS' && s.flags.includes('X');
}

/** Every FUNC symbol with a size, in any executable section. */
export function functions(o: ReadelfOracle): (OracleSymbol & { section: OracleSection })[] {
  const out: (OracleSymbol & { section: OracleSection })[] = [];
  for (const s of o.symbols) {
    const sec = sectionByIndex(o, s.ndx);
    if (s.type === 'FUNC' && sec && isExecutable(sec) && s.size > 0) out.push({ ...s, section: sec });
  }
  return out;
}

/** Programs as libbpf sees them: global FUNC symbols in an executable section other than .text. */
export function programs(o: ReadelfOracle): (OracleSymbol & { section: OracleSection })[] {
  return functions(o).filter((f) => f.bind === 'GLOBAL' && f.section.name !== '.text');
}

export function isLegacyMapsSection(name: string): boolean {
  return name === 'maps' || name.startsWith('maps/');
}

export function isDataSectionName(name: string): boolean {
  return ['.data', '.rodata', '.bss'].includes(name) || /^\.(data|rodata|bss)\./.test(name);
}

/** The relocations applying to a section, from `.rel<name>`. */
export function relocationsFor(o: ReadelfOracle, sectionName: string): OracleRelocation[] {
  return o.relocations.get(`.rel${sectionName}`) ?? [];
}

/** A section's bytes, located by the oracle's offsets (not by our parser). */
export function sectionBytes(file: Uint8Array, s: OracleSection): Uint8Array {
  return s.type === 'NOBITS' ? new Uint8Array(s.size) : file.subarray(s.offset, s.offset + s.size);
}

// --- bpftool btf dump file (fixtures/NAME[.variant].btf.txt) ---------------

export interface OracleBtfType {
  id: number;
  /** bpftool's spelling: INT, PTR, STRUCT, FUNC, VAR, DATASEC, … */
  kind: string;
  /** '(anon)' for anonymous types, as bpftool prints it. */
  name: string;
}

/** The type list of a `bpftool btf dump file` text dump (ids, kinds, names; members are skipped). */
export function parseBtfDump(text: string): OracleBtfType[] {
  const out: OracleBtfType[] = [];
  for (const line of text.split('\n')) {
    const m = line.match(/^\[(\d+)\] ([A-Z0-9_]+) '([^']*)'/);
    if (m) out.push({ id: Number(m[1]), kind: m[2]!, name: m[3]! });
  }
  out.forEach((t, i) => {
    if (t.id !== i + 1) throw new Error(`oracle: BTF type ${i + 1} parsed as [${t.id}]`);
  });
  return out;
}

/** A struct's members in a `bpftool btf dump file` text dump: name → byte offset (bit fields not expected). */
export function btfStructMembers(text: string, struct: string): Map<string, number> {
  const at = text.indexOf(`STRUCT '${struct}' size=`);
  if (at < 0) throw new Error(`oracle: no struct ${struct} in the BTF dump`);
  const out = new Map<string, number>();
  for (const line of text.slice(at).split('\n').slice(1)) {
    const m = /^\t'(\w+)' type_id=\d+ bits_offset=(\d+)$/.exec(line);
    if (!m) break;
    out.set(m[1]!, Number(m[2]) / 8);
  }
  return out;
}
