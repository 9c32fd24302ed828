// BPF_OBJ_GET_INFO_BY_FD and decoders for struct bpf_map_info, bpf_prog_info
// and bpf_link_info. The kernel fills min(our size, its size) bytes and
// requires any extra bytes we pass to be zero, so one buffer size works on
// older and newer kernels alike: fields a kernel does not know read as 0.

import * as ffi from './ffi.js';
import type { NativeBuffer } from './ffi.js';
import * as cmd from './bpf-cmd.js';
import { readCString, readU32, readU64, writeU32, writeU64 } from './endian.js';
import { BPF_LINK_TYPE as L } from './link-type.js';
import { bpfSyscall } from './wrapper.js';

// struct { u32 bpf_fd; u32 info_len; u64 info; } info
const INFO_ATTR_SIZE = 16;

/**
 * One OBJ_GET_INFO_BY_FD call into `info` (native memory, pre-filled with any
 * input fields such as array pointers). Returns the length the kernel filled.
 */
export function objGetInfo(fd: number, info: NativeBuffer, context?: string): number {
  const attr = Buffer.alloc(INFO_ATTR_SIZE);
  writeU32(attr, 0, fd);
  writeU32(attr, 4, info.bytes.byteLength);
  writeU64(attr, 8, info.address);
  bpfSyscall(cmd.BPF_OBJ_GET_INFO_BY_FD, attr, INFO_ATTR_SIZE, context);
  return readU32(attr, 4);
}

// ------------------------------------------------------------------- maps

export interface MapInfo {
  type: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
  ifindex: number;
  btfVmlinuxValueTypeId: number;
  netnsDev: bigint;
  netnsIno: bigint;
  btfId: number;
  btfKeyTypeId: number;
  btfValueTypeId: number;
  mapExtra: bigint;
}

const MAP_INFO_SIZE = 88; // through map_extra (5.16)

export function mapInfo(fd: number, context?: string): MapInfo {
  const mem = ffi.allocNative(MAP_INFO_SIZE);
  objGetInfo(fd, mem, context);
  const b = mem.bytes;
  return {
    type: readU32(b, 0),
    id: readU32(b, 4),
    keySize: readU32(b, 8),
    valueSize: readU32(b, 12),
    maxEntries: readU32(b, 16),
    flags: readU32(b, 20),
    name: readCString(b, 24, 16),
    ifindex: readU32(b, 40),
    btfVmlinuxValueTypeId: readU32(b, 44),
    netnsDev: readU64(b, 48),
    netnsIno: readU64(b, 56),
    btfId: readU32(b, 64),
    btfKeyTypeId: readU32(b, 68),
    btfValueTypeId: readU32(b, 72),
    mapExtra: readU64(b, 80),
  };
}

// --------------------------------------------------------------- programs

export interface ProgInfo {
  type: number;
  id: number;
  /** 8-byte program tag as 16 hex digits, like bpftool prints it. */
  tag: string;
  jitedProgLen: number;
  xlatedProgLen: number;
  /** ns since boot. */
  loadTime: bigint;
  createdByUid: number;
  name: string;
  ifindex: number;
  gplCompatible: boolean;
  netnsDev: bigint;
  netnsIno: bigint;
  btfId: number;
  nrMapIds: number;
  /** Ids of the maps the program uses (filled when asked for). */
  mapIds: number[];
  /** Only counted while BPF stats are enabled (sysctl kernel.bpf_stats_enabled). */
  runTimeNs: bigint;
  runCnt: bigint;
  recursionMisses: bigint;
  verifiedInsns: number;
  attachBtfObjId: number;
  attachBtfId: number;
}

const PROG_INFO_SIZE = 232; // through attach_btf_id (5.16)

export function progInfo(fd: number, opts: { mapIds?: boolean } = {}, context?: string): ProgInfo {
  let mem = ffi.allocNative(PROG_INFO_SIZE);
  objGetInfo(fd, mem, context);
  const nrMapIds = readU32(mem.bytes, 52);
  let mapIds: number[] = [];
  if (opts.mapIds && nrMapIds > 0) {
    // Second call: hand the kernel an array of nr_map_ids u32 to fill.
    const ids = ffi.allocNative(nrMapIds * 4);
    mem = ffi.allocNative(PROG_INFO_SIZE);
    writeU32(mem.bytes, 52, nrMapIds);
    writeU64(mem.bytes, 56, ids.address);
    objGetInfo(fd, mem, context);
    const n = Math.min(nrMapIds, readU32(mem.bytes, 52));
    mapIds = Array.from({ length: n }, (_, i) => readU32(ids.bytes, i * 4));
  }
  const b = mem.bytes;
  return {
    type: readU32(b, 0),
    id: readU32(b, 4),
    tag: b.toString('hex', 8, 16),
    jitedProgLen: readU32(b, 16),
    xlatedProgLen: readU32(b, 20),
    loadTime: readU64(b, 40),
    createdByUid: readU32(b, 48),
    nrMapIds,
    mapIds,
    name: readCString(b, 64, 16),
    ifindex: readU32(b, 80),
    gplCompatible: (readU32(b, 84) & 1) !== 0,
    netnsDev: readU64(b, 88),
    netnsIno: readU64(b, 96),
    btfId: readU32(b, 128),
    runTimeNs: readU64(b, 192),
    runCnt: readU64(b, 200),
    recursionMisses: readU64(b, 208),
    verifiedInsns: readU32(b, 216),
    attachBtfObjId: readU32(b, 220),
    attachBtfId: readU32(b, 224),
  };
}

// ------------------------------------------- a program's instructions

/** What bpf_prog_info gives of a program's code: the instructions as the kernel runs them, and where its functions and source lines start. */
export interface ProgInsns {
  /** The translated ("xlated") instructions after the verifier's rewrites, host byte order. */
  xlated: Uint8Array;
  /**
   * Why `xlated` is empty although the program has instructions: the caller
   * lacks CAP_BPF ('capability'), or the kernel blinded the program's
   * constants and shows it only to callers who may see kernel addresses
   * ('blinded').
   */
  withheld?: 'capability' | 'blinded';
  /** Address of each JITed function (0n when the kernel hides addresses from the caller); empty when not JITed. */
  jitedKsyms: bigint[];
  /** func_info: where each function starts, in xlated instruction slots, and its BTF FUNC type. */
  funcInfo: { insnOff: number; typeId: number }[];
  /** line_info, in xlated slots: offsets into the program's BTF strings; line and column packed as the kernel keeps them. */
  lineInfo: { insnOff: number; fileNameOff: number; lineOff: number; lineCol: number }[];
  /** The program's BTF object (0 when it has none). */
  btfId: number;
}

// bpf_prog_info fields for the arrays, and the record sizes the kernel insists on.
const XLATED_LEN = 20;
const XLATED_PTR = 32;
const NR_JITED_KSYMS = 104;
const JITED_KSYMS = 112;
const FUNC_INFO_REC_SIZE = 132;
const FUNC_INFO = 136;
const NR_FUNC_INFO = 144;
const NR_LINE_INFO = 148;
const LINE_INFO = 152;
const LINE_INFO_REC_SIZE = 172;
const FUNC_REC = 8; // struct bpf_func_info { u32 insn_off; u32 type_id; }
const LINE_REC = 16; // struct bpf_line_info { u32 insn_off, file_name_off, line_off, line_col; }

/** The program's instructions as the kernel holds them (two calls: the counts, then the arrays). */
export function progInsns(fd: number, context?: string): ProgInsns {
  const first = ffi.allocNative(PROG_INFO_SIZE);
  objGetInfo(fd, first, context);
  const f = first.bytes;
  const xlatedLen = readU32(f, XLATED_LEN);
  const nKsyms = readU32(f, NR_JITED_KSYMS);
  const nFunc = readU32(f, NR_FUNC_INFO);
  const nLine = readU32(f, NR_LINE_INFO);
  const btfId = readU32(f, 128);
  // Without CAP_BPF the kernel reports every length as 0 (bpf_prog_get_info_by_fd).
  const withheld = (why: ProgInsns['withheld']): ProgInsns => ({ xlated: new Uint8Array(0), withheld: why, jitedKsyms: [], funcInfo: [], lineInfo: [], btfId });
  if (xlatedLen === 0) return withheld('capability');
  const insns = ffi.allocNative(xlatedLen);
  const ksyms = ffi.allocNative(nKsyms * 8);
  const funcs = ffi.allocNative(nFunc * FUNC_REC);
  const lines = ffi.allocNative(nLine * LINE_REC);
  const mem = ffi.allocNative(PROG_INFO_SIZE);
  const m = mem.bytes;
  writeU32(m, XLATED_LEN, xlatedLen);
  writeU64(m, XLATED_PTR, insns.address);
  writeU32(m, NR_JITED_KSYMS, nKsyms);
  writeU64(m, JITED_KSYMS, ksyms.address);
  if (nFunc > 0) {
    writeU32(m, NR_FUNC_INFO, nFunc);
    writeU32(m, FUNC_INFO_REC_SIZE, FUNC_REC);
    writeU64(m, FUNC_INFO, funcs.address);
  }
  if (nLine > 0) {
    writeU32(m, NR_LINE_INFO, nLine);
    writeU32(m, LINE_INFO_REC_SIZE, LINE_REC);
    writeU64(m, LINE_INFO, lines.address);
  }
  objGetInfo(fd, mem, context);
  // A blinded program's instructions go only to callers who may see kernel addresses: the kernel clears the pointer instead.
  if (readU64(m, XLATED_PTR) === 0n) return withheld('blinded');
  // The second call reports the counts again: copy no more than both calls saw.
  const len = Math.min(xlatedLen, readU32(m, XLATED_LEN));
  return {
    xlated: Uint8Array.from(insns.bytes.subarray(0, len)),
    // When the caller may not see kernel addresses the kernel clears jited_ksyms and leaves our buffer zeroed.
    jitedKsyms: Array.from({ length: Math.min(nKsyms, readU32(m, NR_JITED_KSYMS)) }, (_, i) => readU64(ksyms.bytes, i * 8)),
    funcInfo: Array.from({ length: Math.min(nFunc, readU32(m, NR_FUNC_INFO)) }, (_, i) => ({ insnOff: readU32(funcs.bytes, i * FUNC_REC), typeId: readU32(funcs.bytes, i * FUNC_REC + 4) })),
    lineInfo: Array.from({ length: Math.min(nLine, readU32(m, NR_LINE_INFO)) }, (_, i) => {
      const o = i * LINE_REC;
      return { insnOff: readU32(lines.bytes, o), fileNameOff: readU32(lines.bytes, o + 4), lineOff: readU32(lines.bytes, o + 8), lineCol: readU32(lines.bytes, o + 12) };
    }),
    btfId,
  };
}

// ------------------------------------------------------------------ links

/** The type-specific part of bpf_link_info, for the link types bpf-ts attaches. */
export type LinkDetails =
  | { kind: 'xdp'; ifindex: number }
  | { kind: 'tcx'; ifindex: number; attachType: number }
  | { kind: 'netkit'; ifindex: number; attachType: number }
  | { kind: 'cgroup'; cgroupId: bigint; attachType: number }
  | { kind: 'netns'; netnsIno: number; attachType: number }
  | { kind: 'tracing'; attachType: number; targetObjId: number; targetBtfId: number }
  | { kind: 'raw_tracepoint'; tpName: string }
  | { kind: 'netfilter'; pf: number; hooknum: number; priority: number; flags: number }
  | { kind: 'struct_ops'; mapId: number }
  | { kind: 'sockmap'; mapId: number; attachType: number }
  | { kind: 'uprobe_multi'; path: string; count: number; retprobe: boolean; pid: number }
  | { kind: 'kprobe_multi'; count: number; retprobe: boolean; missed: bigint }
  | { kind: 'other' };

export interface LinkInfo {
  type: number;
  id: number;
  progId: number;
  details: LinkDetails;
}

const LINK_INFO_SIZE = 64; // header (16) + union (48)
const PATH_MAX = 4096;
const U = 16; // offset of the union

export function linkInfo(fd: number, context?: string): LinkInfo {
  let mem = ffi.allocNative(LINK_INFO_SIZE);
  objGetInfo(fd, mem, context);
  const type = readU32(mem.bytes, 0);
  // The raw tracepoint's name, or the uprobe_multi link's path.
  let name = '';
  if (type === L.UPROBE_MULTI) {
    // struct { u64 path; u64 offsets; u64 ref_ctr_offsets; u64 cookies; u32 path_size; u32 count; u32 flags; u32 pid; }:
    // the path only when asked for with a buffer.
    ({ mem, text: name } = linkInfoWithBuffer(fd, U + 32, PATH_MAX, context));
  } else if (type === L.RAW_TRACEPOINT) {
    // With a NULL tp_name the kernel reports the length it needs; ask again with a buffer.
    const len = readU32(mem.bytes, U + 8);
    if (len > 0) ({ mem, text: name } = linkInfoWithBuffer(fd, U + 8, len, context));
  }
  const b = mem.bytes;
  return { type, id: readU32(b, 4), progId: readU32(b, 8), details: linkDetails(type, b, name) };
}

/** bpf_link_info again, with a `len`-byte buffer at the union's first u64 and its size at `sizeAt`: the info and the string written there. */
function linkInfoWithBuffer(fd: number, sizeAt: number, len: number, context?: string): { mem: ffi.NativeBuffer; text: string } {
  const buf = ffi.allocNative(len);
  const mem = ffi.allocNative(LINK_INFO_SIZE);
  writeU64(mem.bytes, U, buf.address);
  writeU32(mem.bytes, sizeAt, len);
  objGetInfo(fd, mem, context);
  return { mem, text: readCString(buf.bytes, 0, len) };
}

function linkDetails(type: number, b: Buffer, name: string): LinkDetails {
  switch (type) {
    case L.XDP:
      return { kind: 'xdp', ifindex: readU32(b, U) };
    case L.TCX:
      return { kind: 'tcx', ifindex: readU32(b, U), attachType: readU32(b, U + 4) };
    case L.NETKIT:
      return { kind: 'netkit', ifindex: readU32(b, U), attachType: readU32(b, U + 4) };
    case L.CGROUP:
      return { kind: 'cgroup', cgroupId: readU64(b, U), attachType: readU32(b, U + 8) };
    case L.NETNS:
      return { kind: 'netns', netnsIno: readU32(b, U), attachType: readU32(b, U + 4) };
    case L.TRACING:
      return {
        kind: 'tracing',
        attachType: readU32(b, U),
        targetObjId: readU32(b, U + 4),
        targetBtfId: readU32(b, U + 8),
      };
    case L.RAW_TRACEPOINT:
      return { kind: 'raw_tracepoint', tpName: name };
    case L.NETFILTER:
      return {
        kind: 'netfilter',
        pf: readU32(b, U),
        hooknum: readU32(b, U + 4),
        priority: readU32(b, U + 8) | 0,
        flags: readU32(b, U + 12),
      };
    case L.STRUCT_OPS:
      return { kind: 'struct_ops', mapId: readU32(b, U) };
    case L.SOCKMAP:
      return { kind: 'sockmap', mapId: readU32(b, U), attachType: readU32(b, U + 4) };
    case L.UPROBE_MULTI:
      return { kind: 'uprobe_multi', path: name, count: readU32(b, U + 36), retprobe: (readU32(b, U + 40) & 1) !== 0, pid: readU32(b, U + 44) };
    case L.KPROBE_MULTI:
      // struct { u64 addrs; u32 count; u32 flags; u64 missed; u64 cookies; }
      return { kind: 'kprobe_multi', count: readU32(b, U + 8), retprobe: (readU32(b, U + 12) & 1) !== 0, missed: readU64(b, U + 16) };
    default:
      return { kind: 'other' };
  }
}
