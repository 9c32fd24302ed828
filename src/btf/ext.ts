// Parser for .BTF.ext: per-ELF-section func_info, line_info and CO-RE
// relocation records that clang emits next to .BTF. Strings (section names,
// file names, source lines, CO-RE access strings) live in .BTF's string
// section, so the parsed .BTF is needed.
//
// Layout: btf_ext_header { u16 magic; u8 version; u8 flags; u32 hdr_len;
// u32 func_info_off, func_info_len, line_info_off, line_info_len;
// [u32 core_relo_off, core_relo_len when hdr_len >= 32] }, offsets counted
// from the end of the header. Each info block is `u32 rec_size` followed by
// groups { u32 sec_name_off; u32 num_info; rec_size * num_info bytes }.

import { BpfError } from '../errors.js';
import type { Btf } from './btf.js';

const BTF_EXT_MAGIC = 0xeb9f;
const BTF_EXT_VERSION = 1;
/** Header without the CO-RE fields (older LLVM). */
const BTF_EXT_HEADER_MIN = 24;
const BTF_EXT_HEADER_CORE = 32;
/** Size of a BPF instruction: .BTF.ext in an object counts offsets in bytes. */
const INSN_SIZE = 8;

export interface FuncInfo {
  /** Instruction index (the ELF stores bytes; divided by 8 here). */
  insnOff: number;
  /** The FUNC type describing the function starting there. */
  typeId: number;
}

export interface LineInfo {
  /** Instruction index (the ELF stores bytes; divided by 8 here). */
  insnOff: number;
  fileNameOff: number;
  lineOff: number;
  line: number;
  column: number;
  fileName: string;
  /** The source line's text. */
  source: string;
}

export interface CoreRelocation {
  /** Instruction index (the ELF stores bytes; divided by 8 here). */
  insnOff: number;
  /** Local BTF type id the access starts from. */
  typeId: number;
  /** "0:1:2" style accessor: field/array indices, or the enumerator index. */
  accessStr: string;
  /**
   * Where accessStr starts in the .BTF string section: what the kernel's own
   * CO-RE (BPF_PROG_LOAD core_relos) reads. Absent in relocations built by
   * hand, which are then resolved here.
   */
  accessStrOff?: number;
  /** enum bpf_core_relo_kind. */
  kind: number;
  kindName: string;
}

export interface BtfExt {
  /** Keyed by ELF section name ("xdp", "kprobe/do_exit", ".text"). */
  funcInfo: Map<string, FuncInfo[]>;
  lineInfo: Map<string, LineInfo[]>;
  coreRelocations: Map<string, CoreRelocation[]>;
  /** rec_size of each block as found in the object (0 when the block is absent). */
  funcInfoRecSize: number;
  lineInfoRecSize: number;
  coreReloRecSize: number;
}

export interface ParseBtfExtOptions {
  /** Byte order; detected from the magic when omitted. */
  littleEndian?: boolean;
  /** Label that starts every error message, e.g. the object's path. */
  source?: string;
}

/** enum bpf_core_relo_kind, by value. */
export const CORE_RELO_KIND_NAMES: readonly string[] = [
  'field_byte_offset',
  'field_byte_size',
  'field_exists',
  'field_signed',
  'field_lshift_u64',
  'field_rshift_u64',
  'type_id_local',
  'type_id_target',
  'type_exists',
  'type_size',
  'enumval_exists',
  'enumval_value',
  'type_matches',
];

/**
 * Name of a bpf_core_relo_kind. Kinds newer than this table come back as
 * "unknown(N)" rather than failing the parse: only relocating them is
 * impossible, and that is the CO-RE step's error to report.
 */
export function coreReloKindName(kind: number): string {
  return CORE_RELO_KIND_NAMES[kind] ?? `unknown(${kind})`;
}

export function parseBtfExt(bytes: Uint8Array, btf: Btf, opts: ParseBtfExtOptions = {}): BtfExt {
  const prefix = opts.source ? `${opts.source}: .BTF.ext: ` : '.BTF.ext: ';
  const fail: (msg: string) => never = (msg) => {
    throw new BpfError('BTF_EXT_INVALID', prefix + msg);
  };
  if (!(bytes instanceof Uint8Array)) fail('expected a Uint8Array');
  if (bytes.length < BTF_EXT_HEADER_MIN) fail(`truncated header (${bytes.length} bytes, need ${BTF_EXT_HEADER_MIN})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  let le: boolean;
  if (opts.littleEndian !== undefined) {
    le = opts.littleEndian;
    if (view.getUint16(0, le) !== BTF_EXT_MAGIC) {
      fail(`bad magic 0x${view.getUint16(0, le).toString(16)} for ${le ? 'little' : 'big'}-endian .BTF.ext`);
    }
  } else if (view.getUint16(0, true) === BTF_EXT_MAGIC) le = true;
  else if (view.getUint16(0, false) === BTF_EXT_MAGIC) le = false;
  else fail(`bad magic 0x${view.getUint16(0, true).toString(16)} (want 0xeb9f)`);

  const version = view.getUint8(2);
  if (version !== BTF_EXT_VERSION) fail(`unsupported version ${version}`);
  const hdrLen = view.getUint32(4, le);
  if (hdrLen < BTF_EXT_HEADER_MIN) fail(`header length ${hdrLen} below ${BTF_EXT_HEADER_MIN}`);
  if (hdrLen > bytes.length) fail(`header length ${hdrLen} past end of data (${bytes.length} bytes)`);

  const u32 = (off: number): number => view.getUint32(off, le);
  const str = (what: string, off: number): string => {
    if (!btf.hasString(off)) fail(`${what} string offset ${off} past .BTF string section (${btf.stringEnd} bytes)`);
    return btf.stringAt(off);
  };
  const typeId = (what: string, id: number): number => {
    if (id >= btf.count) fail(`${what} type id ${id} out of range (${btf.count} types)`);
    return id;
  };
  const insn = (what: string, byteOff: number): number => {
    if (byteOff % INSN_SIZE !== 0) fail(`${what} instruction offset ${byteOff} is not a multiple of ${INSN_SIZE}`);
    return byteOff / INSN_SIZE;
  };

  /**
   * Walks one info block, calling `decode(recordOffset, section)` per record.
   * Records may be larger than the fields known here (newer LLVM appends
   * fields); only rec_size says how far apart they are.
   */
  const walk = <T>(what: string, off: number, len: number, minRecSize: number, decode: (at: number, section: string) => T): { recSize: number; bySection: Map<string, T[]> } => {
    const bySection = new Map<string, T[]>();
    if (len === 0) return { recSize: 0, bySection };
    const start = hdrLen + off;
    const end = start + len;
    if (end > bytes.length) fail(`${what} ${off}+${len} past end of data (${bytes.length - hdrLen} bytes after header)`);
    if (len < 4) fail(`${what} too short for its record size (${len} bytes)`);
    const recSize = u32(start);
    if (recSize < minRecSize) fail(`${what} record size ${recSize} below ${minRecSize}`);
    if (recSize % 4 !== 0) fail(`${what} record size ${recSize} is not a multiple of 4`);
    // Each group consumes at least its 8-byte header, so this loop ends.
    for (let at = start + 4; at < end;) {
      if (at + 8 > end) fail(`${what} group header at offset ${at - start} runs past the end (${len} bytes)`);
      const section = str(`${what} section name`, u32(at));
      const num = u32(at + 4);
      if (num === 0) fail(`${what} for section '${section}' has no records`);
      at += 8;
      if (at + num * recSize > end) {
        fail(`${what} for section '${section}': ${num} records of ${recSize} bytes run past the end (${len} bytes)`);
      }
      let list = bySection.get(section);
      if (!list) bySection.set(section, (list = []));
      for (let i = 0; i < num; i++, at += recSize) list.push(decode(at, section));
    }
    return { recSize, bySection };
  };

  const func = walk('func_info', u32(8), u32(12), 8, (at, section): FuncInfo => ({
    insnOff: insn(`func_info in '${section}'`, u32(at)),
    typeId: typeId(`func_info in '${section}'`, u32(at + 4)),
  }));

  const line = walk('line_info', u32(16), u32(20), 16, (at, section): LineInfo => {
    const fileNameOff = u32(at + 4);
    const lineOff = u32(at + 8);
    const lineCol = u32(at + 12);
    return {
      insnOff: insn(`line_info in '${section}'`, u32(at)),
      fileNameOff,
      lineOff,
      // line_col packs the line in the upper 22 bits, the column in the lower 10.
      line: lineCol >>> 10,
      column: lineCol & 0x3ff,
      fileName: str(`line_info in '${section}' file name`, fileNameOff),
      source: str(`line_info in '${section}' line`, lineOff),
    };
  });

  let core = { recSize: 0, bySection: new Map<string, CoreRelocation[]>() };
  if (hdrLen >= BTF_EXT_HEADER_CORE) {
    core = walk('core_relo', u32(24), u32(28), 16, (at, section): CoreRelocation => {
      const kind = u32(at + 12);
      return {
        insnOff: insn(`core_relo in '${section}'`, u32(at)),
        typeId: typeId(`core_relo in '${section}'`, u32(at + 4)),
        accessStr: str(`core_relo in '${section}' access`, u32(at + 8)),
        accessStrOff: u32(at + 8),
        kind,
        kindName: coreReloKindName(kind),
      };
    });
  }

  return {
    funcInfo: func.bySection,
    lineInfo: line.bySection,
    coreRelocations: core.bySection,
    funcInfoRecSize: func.recSize,
    lineInfoRecSize: line.recSize,
    coreReloRecSize: core.recSize,
  };
}
