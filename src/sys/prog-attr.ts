// BPF_PROG_LOAD and BPF_PROG_TEST_RUN attrs (union bpf_attr, include/uapi/linux/bpf.h).

import * as cmd from './bpf-cmd.js';
import * as ffi from './ffi.js';
import { readU32, writeU32, writeU64 } from './endian.js';
import { bpfRaw, bpfSyscall } from './wrapper.js';
import { BpfSyscallError } from './syscall-error.js';
import { ENOSPC } from './errno.js';
import { BpfError } from '../errors.js';

// struct { /* BPF_PROG_LOAD */ } offsets.
const PROG_TYPE = 0;
const INSN_CNT = 4;
const INSNS = 8;
const LICENSE = 16;
const LOG_LEVEL = 24;
const LOG_SIZE = 28;
const LOG_BUF = 32;
const KERN_VERSION = 40;
const PROG_FLAGS = 44;
const PROG_NAME = 48;
const PROG_IFINDEX = 64;
const EXPECTED_ATTACH_TYPE = 68;
const PROG_BTF_FD = 72;
const FUNC_INFO_REC_SIZE = 76;
const FUNC_INFO = 80;
const FUNC_INFO_CNT = 88;
const LINE_INFO_REC_SIZE = 92;
const LINE_INFO = 96;
const LINE_INFO_CNT = 104;
const ATTACH_BTF_ID = 108;
// union { u32 attach_prog_fd; u32 attach_btf_obj_fd; }
const ATTACH_BTF_OBJ_FD = 112;
const CORE_RELO_CNT = 116;
const FD_ARRAY = 120;
const CORE_RELOS = 128;
const CORE_RELO_REC_SIZE = 136;
/** sizeof(struct bpf_core_relo): insn_off (bytes), type_id, access_str_off, kind. */
export const CORE_RELO_SIZE = 16;
const LOG_TRUE_SIZE = 140;
/** Up to and including log_true_size (6.4+); older kernels accept it as long as the tail is zero. */
export const PROG_LOAD_ATTR_SIZE = 144;

export const BPF_OBJ_NAME_LEN = 16;

export interface ProgLoadAttr {
  type: number;
  /** Instructions in host byte order. */
  insns: Uint8Array;
  license: string;
  name: string;
  kernVersion?: number;
  progFlags?: number;
  expectedAttachType?: number;
  ifindex?: number;
  btfFd?: number;
  /** bpf_func_info records (8 bytes each) and bpf_line_info records (16 bytes each), host order. */
  funcInfo?: Uint8Array;
  lineInfo?: Uint8Array;
  attachBtfId?: number;
  /** attach_prog_fd (freplace, BPF-to-BPF fentry) or attach_btf_obj_fd (module BTF): the same field. */
  attachBtfObjFd?: number;
  /** fd_array: fds that BPF_PSEUDO_KFUNC_CALL insns (off = index) and similar refer to. */
  fdArray?: number[];
  /** core_relos: struct bpf_core_relo records for the kernel to apply (5.17+), host order. */
  coreRelos?: Uint8Array;
}

export interface ProgLoadResult {
  /** fd, or -errno */
  result: number;
  /** What the verifier wrote (empty when no log was asked for), decoded on first use. */
  readonly log: string;
  /** The same log as bytes: a view of the kernel-filled buffer, no copy. */
  logBytes: Buffer;
  /** log_true_size: the buffer size the whole log needs (0 when the kernel does not say). */
  logTrueSize: number;
}

/** The bytes of `b` before its first NUL (a view). */
function cStringBytes(b: Buffer): Buffer {
  const end = b.indexOf(0);
  return end < 0 ? b : b.subarray(0, end);
}

/** One BPF_PROG_LOAD. Never throws on a kernel refusal: the caller decides what a retry looks like. */
export function progLoad(a: ProgLoadAttr, logLevel = 0, logSize = 0): ProgLoadResult {
  const attr = ffi.allocNative(PROG_LOAD_ATTR_SIZE);
  const b = attr.bytes;
  const insns = ffi.nativeCopy(a.insns);
  const license = ffi.nativeCopy(a.license);
  writeU32(b, PROG_TYPE, a.type);
  writeU32(b, INSN_CNT, a.insns.byteLength / 8);
  writeU64(b, INSNS, insns.address);
  writeU64(b, LICENSE, license.address);
  let log: ffi.NativeBuffer | null = null;
  if (logLevel > 0 && logSize > 0) {
    log = ffi.allocNative(logSize);
    writeU32(b, LOG_LEVEL, logLevel);
    writeU32(b, LOG_SIZE, logSize);
    writeU64(b, LOG_BUF, log.address);
  }
  writeU32(b, KERN_VERSION, a.kernVersion ?? 0);
  writeU32(b, PROG_FLAGS, a.progFlags ?? 0);
  b.write(a.name.slice(0, BPF_OBJ_NAME_LEN - 1), PROG_NAME, 'latin1');
  writeU32(b, PROG_IFINDEX, a.ifindex ?? 0);
  writeU32(b, EXPECTED_ATTACH_TYPE, a.expectedAttachType ?? 0);
  // Keep the info buffers referenced until after the call.
  const keep: ffi.NativeBuffer[] = [insns, license];
  if (a.btfFd !== undefined && a.btfFd >= 0) {
    writeU32(b, PROG_BTF_FD, a.btfFd);
    if (a.funcInfo && a.funcInfo.byteLength > 0) {
      const fi = ffi.nativeCopy(a.funcInfo);
      keep.push(fi);
      writeU32(b, FUNC_INFO_REC_SIZE, 8);
      writeU64(b, FUNC_INFO, fi.address);
      writeU32(b, FUNC_INFO_CNT, a.funcInfo.byteLength / 8);
    }
    if (a.lineInfo && a.lineInfo.byteLength > 0) {
      const li = ffi.nativeCopy(a.lineInfo);
      keep.push(li);
      writeU32(b, LINE_INFO_REC_SIZE, 16);
      writeU64(b, LINE_INFO, li.address);
      writeU32(b, LINE_INFO_CNT, a.lineInfo.byteLength / 16);
    }
  }
  writeU32(b, ATTACH_BTF_ID, a.attachBtfId ?? 0);
  writeU32(b, ATTACH_BTF_OBJ_FD, a.attachBtfObjFd ?? 0);
  if (a.fdArray && a.fdArray.length > 1) {
    const arr = new Uint8Array(a.fdArray.length * 4);
    a.fdArray.forEach((fd, i) => writeU32(arr, i * 4, fd));
    const fa = ffi.nativeCopy(arr);
    keep.push(fa);
    writeU64(b, FD_ARRAY, fa.address);
  }
  if (a.coreRelos && a.coreRelos.byteLength > 0) {
    const cr = ffi.nativeCopy(a.coreRelos);
    keep.push(cr);
    writeU32(b, CORE_RELO_CNT, a.coreRelos.byteLength / CORE_RELO_SIZE);
    writeU64(b, CORE_RELOS, cr.address);
    writeU32(b, CORE_RELO_REC_SIZE, CORE_RELO_SIZE);
  }
  const result = bpfRaw(cmd.BPF_PROG_LOAD, b, PROG_LOAD_ATTR_SIZE);
  keep.length = 0;
  // A view of the log up to its NUL, not a copy: logs can be tens of megabytes.
  const logBytes = log ? cStringBytes(log.bytes) : Buffer.alloc(0);
  let text: string | undefined;
  return {
    result,
    logBytes,
    get log() {
      return (text ??= logBytes.toString('utf8'));
    },
    logTrueSize: readU32(b, LOG_TRUE_SIZE),
  };
}

// struct { /* BPF_PROG_TEST_RUN */ } offsets.
const TR_PROG_FD = 0;
const TR_RETVAL = 4;
const TR_DATA_SIZE_IN = 8;
const TR_DATA_SIZE_OUT = 12;
const TR_DATA_IN = 16;
const TR_DATA_OUT = 24;
const TR_REPEAT = 32;
const TR_DURATION = 36;
const TR_CTX_SIZE_IN = 40;
const TR_CTX_SIZE_OUT = 44;
const TR_CTX_IN = 48;
const TR_CTX_OUT = 56;
const TR_FLAGS = 64;
const TEST_RUN_ATTR_SIZE = 80;

export interface TestRunResult {
  retval: number;
  /** Average duration of one run in ns, as the kernel measured it. */
  durationNs: number;
  dataOut: Buffer;
  ctxOut: Buffer | null;
}

/**
 * Native memory every test run reuses (test runs are synchronous and copy
 * their results out): the attr block, the input packet (grown when a packet
 * needs more) and, for the usual case, the output buffer. A fresh native
 * block per run cost more than the run itself (~3.5 of 6 µs a run).
 */
let sharedAttr: ffi.NativeBuffer | undefined;
let sharedIn: ffi.NativeBuffer | undefined;
let sharedOut: ffi.NativeBuffer | undefined;

/** The shared attr block, zeroed for the next run. */
function testRunAttr(): Buffer {
  const b = (sharedAttr ??= ffi.allocNative(TEST_RUN_ATTR_SIZE)).bytes;
  b.fill(0);
  return b;
}

/**
 * BPF_PROG_TEST_RUN for programs that take only a context (syscall, raw
 * tracepoint): the kernel refuses data, an output buffer, repeat and duration
 * for them (EINVAL). A syscall program's context is written back into the
 * input buffer, so `ctxOut` is the context after the run.
 */
export function progTestRunContext(progFd: number, ctx: Uint8Array | undefined, context?: string): TestRunResult {
  const b = testRunAttr();
  writeU32(b, TR_PROG_FD, progFd);
  const ctxIn = ctx && ctx.byteLength > 0 ? ffi.nativeCopy(ctx) : null;
  if (ctxIn) {
    writeU32(b, TR_CTX_SIZE_IN, ctxIn.bytes.byteLength);
    writeU64(b, TR_CTX_IN, ctxIn.address);
  }
  bpfSyscall(cmd.BPF_PROG_TEST_RUN, b, TEST_RUN_ATTR_SIZE, context);
  return { retval: readU32(b, TR_RETVAL), durationNs: 0, dataOut: Buffer.alloc(0), ctxOut: ctxIn ? Buffer.from(ctxIn.bytes) : null };
}

/** A page: the frame an XDP test run's packet can grow to (head or tail) beyond its input. */
const XDP_FRAME = 4096;
/** Room for the context the kernel hands back (struct __sk_buff, the largest with a test run, is 192 bytes). */
const CTX_OUT_MAX = 1024;
/** The largest packet an skb program can make (bpf_skb_change_tail stops at 64 KiB). */
const SKB_MAX = 65536;

/** BPF_PROG_TEST_RUN: run the program `repeat` times on `data` (and an optional context). */
/**
 * BPF_PROG_TEST_RUN on `data` (or, with `contextOnly`, on the context alone:
 * no data_in/data_out at all, as socket lookup runs require).
 */
export function progTestRun(
  progFd: number,
  data: Uint8Array,
  opts: { repeat?: number; ctxIn?: Uint8Array; dataOutSize?: number; flags?: number; contextOnly?: boolean } = {},
  context?: string,
): TestRunResult {
  const b = testRunAttr();
  if (!sharedIn || sharedIn.bytes.byteLength < data.byteLength) sharedIn = ffi.allocNative(Math.max(data.byteLength, 256));
  const inBuf = sharedIn;
  inBuf.bytes.set(data);
  // Programs grow packets: bpf_xdp_adjust_tail up to a page's frame, bpf_skb_change_tail
  // up to 64 KiB. The kernel refuses (ENOSPC) an output larger than this buffer after
  // the program has run, so it is sized for the most a run can return, not for the input.
  const outSize = opts.contextOnly ? 0 : (opts.dataOutSize ?? Math.max(data.byteLength + XDP_FRAME, SKB_MAX));
  // The shared buffer for the usual size and for none (a context-only run reads nothing back).
  const out = outSize === SKB_MAX || outSize === 0 ? (sharedOut ??= ffi.allocNative(SKB_MAX)) : ffi.allocNative(outSize);
  writeU32(b, TR_PROG_FD, progFd);
  writeU32(b, TR_DATA_SIZE_IN, data.byteLength);
  writeU32(b, TR_DATA_SIZE_OUT, outSize);
  // A context-only run passes no buffers (a socket lookup's test run refuses any: EINVAL).
  writeU64(b, TR_DATA_IN, opts.contextOnly ? 0n : inBuf.address);
  writeU64(b, TR_DATA_OUT, opts.contextOnly ? 0n : out.address);
  writeU32(b, TR_REPEAT, opts.repeat ?? 1);
  let ctxIn: ffi.NativeBuffer | null = null;
  let ctxOut: ffi.NativeBuffer | null = null;
  if (opts.ctxIn) {
    ctxIn = ffi.nativeCopy(opts.ctxIn);
    // The kernel takes a context shorter than its struct (the rest zero) but hands back
    // the whole struct, refusing (ENOSPC) a smaller output buffer: room for any of them.
    ctxOut = ffi.allocNative(Math.max(opts.ctxIn.byteLength, CTX_OUT_MAX));
    writeU32(b, TR_CTX_SIZE_IN, opts.ctxIn.byteLength);
    writeU64(b, TR_CTX_IN, ctxIn.address);
    writeU32(b, TR_CTX_SIZE_OUT, ctxOut.bytes.byteLength);
    writeU64(b, TR_CTX_OUT, ctxOut.address);
  }
  writeU32(b, TR_FLAGS, opts.flags ?? 0);
  try {
    bpfSyscall(cmd.BPF_PROG_TEST_RUN, b, TEST_RUN_ATTR_SIZE, context);
  } catch (e) {
    if (!(e instanceof BpfSyscallError && e.errno === ENOSPC)) throw e;
    const ctxSize = readU32(b, TR_CTX_SIZE_OUT);
    if (ctxOut && ctxSize > ctxOut.bytes.byteLength)
      throw new BpfError('TEST_RUN_OUTPUT', `${context ?? 'BPF_PROG_TEST_RUN'}: the context after the run is ${ctxSize} bytes, more than the ${ctxOut.bytes.byteLength}-byte output buffer`);
    const size = readU32(b, TR_DATA_SIZE_OUT);
    throw new BpfError(
      'TEST_RUN_OUTPUT',
      `${context ?? 'BPF_PROG_TEST_RUN'}: the packet after the run is ${size} bytes, more than the ${outSize}-byte output buffer (the run happened: retval ${readU32(b, TR_RETVAL)})`,
    );
  }
  const outLen = Math.min(readU32(b, TR_DATA_SIZE_OUT), outSize);
  // A program type whose test run hands no context back (netfilter) leaves ctx_size_out
  // at the buffer's size, which no context struct reaches: no context then.
  const ctxLen = readU32(b, TR_CTX_SIZE_OUT);
  const ctxUntouched = ctxOut !== null && ctxLen === ctxOut.bytes.byteLength && ctxLen === CTX_OUT_MAX;
  return {
    retval: readU32(b, TR_RETVAL),
    durationNs: readU32(b, TR_DURATION),
    dataOut: Buffer.from(out.bytes.subarray(0, outLen)),
    ctxOut: ctxOut && !ctxUntouched ? Buffer.from(ctxOut.bytes.subarray(0, ctxLen)) : null,
  };
}
