// Tracing programs in the emulator: the task a program runs in, the
// arguments of raw tracepoints and BPF trampolines (fentry, fexit, fmod_ret,
// tp_btf, lsm), and the helpers that read them or kernel memory, as
// kernel/trace/bpf_trace.c and mm/maccess.c answer on x86-64.
//
// Kernel memory here is the emulator's regions (stack, maps, context): a
// probe read inside one succeeds. No other address is mapped, and which
// error a read of it gets follows the kernel's checks: an address the
// kernel never reads as its own (user space and its guard page, the vsyscall
// page, a non-canonical address) is -ERANGE for the kernel variants,
// anything else -EFAULT; there is no user memory, so the user variants are
// always -EFAULT. Every failed read zeroes its buffer, as the kernel does.

import { BpfError } from '../errors.js';
import { BPF_ATTACH_TYPE, BPF_PROG_TYPE } from '../uapi/bpf.js';
import { refuseAccess } from './context.js';
import { EINVAL, ERANGE } from './maps.js';
import type { Memory, RegionHooks } from './memory.js';
import { EFAULT } from './skb.js';
import type { HelperContext, HelperDef } from './vm.js';

const EOPNOTSUPP = 95;
/** MAX_BPF_FUNC_ARGS: the most u64 arguments a raw tracepoint's test run takes. */
export const MAX_BPF_FUNC_ARGS = 12;
/** TASK_COMM_LEN less its NUL. */
const COMM_MAX = 15;

// x86-64 with 4-level page tables: user space ends a page below 2^47.
const TASK_SIZE_MAX = (1n << 47n) - 4096n;
const VSYSCALL_PAGE = 0xffff_ffff_ff60_0000n;

/** The task a program runs in: what bpf_get_current_pid_tgid and its kin return. */
export interface EmulatedTask {
  /** The thread's id (the kernel's pid; default: tgid). */
  pid?: number;
  /** The process's id (the kernel's tgid; default: this process's). */
  tgid?: number;
  /** Default: this process's. */
  uid?: number;
  gid?: number;
  /** At most 15 bytes are kept, as the kernel's TASK_COMM_LEN does (default: the name this process was started by, e.g. "node"). */
  comm?: string;
  /** bpf_get_current_cgroup_id: the task's cgroup v2 id (default 1, the root cgroup's). */
  cgroupId?: bigint | number;
  /** The parent process's id (task->real_parent->tgid; default: this process's parent). */
  ppid?: number;
}

/** A task with every field set. */
export interface Task {
  pid: number;
  tgid: number;
  uid: number;
  gid: number;
  comm: Uint8Array;
  cgroupId: bigint;
  ppid: number;
}

/**
 * The task of a run: the run's fields over the emulation's over the calling
 * process (a kernel test run runs in the caller's task).
 */
export function resolveTask(...layers: (EmulatedTask | undefined)[]): Task {
  const t: EmulatedTask = Object.assign({}, ...layers.filter((l) => l !== undefined));
  const tgid = t.tgid ?? process.pid;
  // The kernel's comm: the basename of the file the process was started by.
  const name = t.comm ?? (process.argv0 || process.execPath).split('/').pop()!;
  return {
    pid: t.pid ?? tgid,
    tgid,
    uid: t.uid ?? process.getuid?.() ?? 0,
    gid: t.gid ?? process.getgid?.() ?? 0,
    comm: Buffer.from(name, 'utf8').subarray(0, COMM_MAX),
    cgroupId: BigInt.asUintN(64, BigInt(t.cgroupId ?? 1)),
    ppid: t.ppid ?? process.ppid,
  };
}

/** What a tracing run carries besides its context. */
export interface TraceState {
  task: Task;
  /** Arguments of a trampoline program (bpf_get_func_arg_cnt); undefined for other programs. */
  nargs?: number;
  /** bpf_get_func_ret answers only for fexit and fmod_ret. */
  funcRet: boolean;
  funcIp: bigint;
  cookie: bigint;
}

/** How a program of this type and attach type takes its context. */
export type TraceContextKind = 'args' | 'bytes';

/**
 * Tracing program types the emulator runs: 'args' ones get u64 arguments
 * (raw tracepoints, trampolines, LSM); 'bytes' ones a context the caller
 * lays out (a kprobe's or uprobe's struct pt_regs, a tracepoint's record, a
 * perf event program's struct bpf_perf_event_data).
 */
export function traceContextKind(type: number, attach: number | null): TraceContextKind | undefined {
  if (type === BPF_PROG_TYPE.RAW_TRACEPOINT || type === BPF_PROG_TYPE.RAW_TRACEPOINT_WRITABLE || type === BPF_PROG_TYPE.LSM) return 'args';
  if (type === BPF_PROG_TYPE.TRACING) return attach === BPF_ATTACH_TYPE.TRACE_ITER ? undefined : 'args';
  if (type === BPF_PROG_TYPE.KPROBE || type === BPF_PROG_TYPE.TRACEPOINT || type === BPF_PROG_TYPE.PERF_EVENT) return 'bytes';
  return undefined;
}

/** fexit, fmod_ret and LSM programs see the return value after the arguments. */
export function attachHasRet(type: number, attach: number | null): boolean {
  return (
    (type === BPF_PROG_TYPE.TRACING && (attach === BPF_ATTACH_TYPE.TRACE_FEXIT || attach === BPF_ATTACH_TYPE.MODIFY_RETURN)) ||
    (type === BPF_PROG_TYPE.LSM && (attach === BPF_ATTACH_TYPE.LSM_MAC || attach === BPF_ATTACH_TYPE.LSM_CGROUP))
  );
}

/** A run option's integer as a u64 (negative ones as two's complement); a USAGE error for anything else. */
export function u64Option(v: bigint | number, name: string, what: string): bigint {
  if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new BpfError('USAGE', `${what}: ${name} is ${v}, not an integer (give a bigint for 64-bit values)`);
  return BigInt.asUintN(64, BigInt(v));
}

/** The arguments as the context holds them: one u64 each, in the object's byte order. */
export function argsBytes(args: readonly (bigint | number)[], littleEndian: boolean, what: string): Uint8Array {
  const out = new Uint8Array(args.length * 8);
  const dv = new DataView(out.buffer);
  args.forEach((a, i) => {
    dv.setBigUint64(i * 8, u64Option(a, `argument ${i}`, what), littleEndian);
  });
  return out;
}

const neg = (errno: number): bigint => BigInt.asUintN(64, BigInt(-errno));

/**
 * copy_from_kernel_nofault_allowed's answer for an address no region holds:
 * -ERANGE for user space, its guard page, the vsyscall page and an address
 * not canonical for the CPU's virtual address width; anything else is tried
 * and faults.
 */
function kernelReadError(addr: bigint, virtBits: bigint): number {
  if (addr < TASK_SIZE_MAX + 4096n) return ERANGE;
  if ((addr & ~0xfffn) === VSYSCALL_PAGE) return ERANGE;
  if (BigInt.asUintN(64, BigInt.asIntN(Number(virtBits), addr)) !== addr) return ERANGE;
  return EFAULT;
}

/** The region bytes from addr to its region's end, when an emulated region holds addr. */
function regionBytes(memory: Memory, addr: bigint): Uint8Array | undefined {
  const at = memory.find(addr);
  return at ? at.region.bytes.subarray(at.offset) : undefined;
}

/** The helpers of tracing programs: the task, probe reads, the trampoline's arguments. */
export function traceHelpers(
  st: () => TraceState,
  bytes: (ctx: HelperContext, addr: bigint, len: number, what: string, write?: boolean) => Uint8Array,
  virtualAddressBits: number,
  /** The task's struct task_struct, mapped (bpf_get_current_task). */
  currentTask: (ctx: HelperContext) => bigint,
): [string, HelperDef['fn']][] {
  const virtBits = BigInt(virtualAddressBits);
  const u32 = (v: bigint): number => Number(BigInt.asUintN(32, v));
  // bpf_probe_read_kernel: a region's bytes, else the kernel's error and a zeroed buffer.
  const readKernel = (ctx: HelperContext, dst: bigint, size: bigint, src: bigint): bigint => {
    const n = u32(size);
    const out = bytes(ctx, dst, n, 'dst', true);
    const from = ctx.memory.view(src, n);
    if (from) {
      out.set(from);
      return 0n;
    }
    out.fill(0);
    // Starting in a region and running past its end faults there.
    return neg(ctx.memory.find(src) ? EFAULT : kernelReadError(BigInt.asUintN(64, src), virtBits));
  };
  // bpf_probe_read_user: no user memory is emulated.
  const readUser = (ctx: HelperContext, dst: bigint, size: bigint): bigint => {
    bytes(ctx, dst, u32(size), 'dst', true).fill(0);
    return neg(EFAULT);
  };
  // bpf_probe_read_kernel_str: up to size - 1 bytes and a NUL (the rest of
  // dst untouched), returning the bytes written with the NUL. The kernel
  // reads up to size bytes (the last replaced by the NUL), so a string that
  // reaches its region's end before a NUL or size bytes reads unmapped
  // memory: -EFAULT.
  const readKernelStr = (ctx: HelperContext, dst: bigint, size: bigint, src: bigint): bigint => {
    const n = u32(size);
    const out = bytes(ctx, dst, n, 'dst', true);
    if (n === 0) return 0n;
    const from = regionBytes(ctx.memory, src);
    const err = from ? EFAULT : kernelReadError(BigInt.asUintN(64, src), virtBits);
    if (from) {
      const nul = from.subarray(0, n).indexOf(0);
      const len = nul >= 0 ? nul : n - 1;
      if (nul >= 0 || from.length >= n) {
        out.set(from.subarray(0, len));
        out[len] = 0;
        return BigInt(len + 1);
      }
    }
    out.fill(0);
    return neg(err);
  };
  const readUserStr = (ctx: HelperContext, dst: bigint, size: bigint): bigint => {
    const n = u32(size);
    bytes(ctx, dst, n, 'dst', true).fill(0);
    return n === 0 ? 0n : neg(EFAULT);
  };
  // The old bpf_probe_read/_str: below TASK_SIZE the user variant, else the kernel's. An emulated region is kernel memory.
  const isUser = (ctx: HelperContext, src: bigint): boolean => BigInt.asUintN(64, src) < TASK_SIZE_MAX && !ctx.memory.find(src);
  const trampoline = (ctx: HelperContext, what: string): TraceState => {
    const s = st();
    if (s.nargs === undefined) ctx.fault(`${what} reads a BPF trampoline's arguments: only fentry, fexit, fmod_ret and lsm programs have them`);
    return s;
  };
  return [
    [
      'bpf_get_current_pid_tgid',
      () => {
        const t = st().task;
        return (BigInt(t.tgid >>> 0) << 32n) | BigInt(t.pid >>> 0);
      },
    ],
    [
      'bpf_get_current_uid_gid',
      () => {
        const t = st().task;
        return (BigInt(t.gid >>> 0) << 32n) | BigInt(t.uid >>> 0);
      },
    ],
    [
      'bpf_get_current_comm',
      // strscpy_pad: at most size - 1 bytes, NUL-padded to size.
      (ctx, buf, size) => {
        const out = bytes(ctx, buf, u32(size), 'buf', true);
        const comm = st().task.comm;
        out.fill(0);
        if (out.length > 0) out.set(comm.subarray(0, out.length - 1));
        return 0n;
      },
    ],
    ['bpf_get_current_cgroup_id', () => st().task.cgroupId],
    ['bpf_get_current_task', (ctx) => currentTask(ctx)],
    ['bpf_get_current_task_btf', (ctx) => currentTask(ctx)],
    ['bpf_probe_read_kernel', (ctx, dst, size, src) => readKernel(ctx, dst, size, src)],
    ['bpf_probe_read_user', (ctx, dst, size) => readUser(ctx, dst, size)],
    ['bpf_probe_read_kernel_str', (ctx, dst, size, src) => readKernelStr(ctx, dst, size, src)],
    ['bpf_probe_read_user_str', (ctx, dst, size) => readUserStr(ctx, dst, size)],
    ['bpf_probe_read', (ctx, dst, size, src) => (isUser(ctx, src) ? readUser(ctx, dst, size) : readKernel(ctx, dst, size, src))],
    ['bpf_probe_read_str', (ctx, dst, size, src) => (isUser(ctx, src) ? readUserStr(ctx, dst, size) : readKernelStr(ctx, dst, size, src))],
    ['bpf_get_attach_cookie', () => st().cookie],
    ['bpf_get_func_ip', () => st().funcIp],
    ['bpf_get_func_arg_cnt', (ctx) => BigInt(trampoline(ctx, 'bpf_get_func_arg_cnt').nargs!)],
    [
      'bpf_get_func_arg',
      // n is compared as a u32; past the arguments -EINVAL and *value unchanged.
      (ctx, c, n, value) => {
        const s = trampoline(ctx, 'bpf_get_func_arg');
        const i = u32(n);
        if (i >= s.nargs!) return neg(EINVAL);
        bytes(ctx, value, 8, 'value', true).set(bytes(ctx, c + BigInt(i * 8), 8, 'ctx'));
        return 0n;
      },
    ],
    [
      'bpf_get_func_ret',
      // fexit and fmod_ret: the value after the arguments; other programs -EOPNOTSUPP.
      (ctx, c, value) => {
        const s = trampoline(ctx, 'bpf_get_func_ret');
        if (!s.funcRet) return neg(EOPNOTSUPP);
        bytes(ctx, value, 8, 'value', true).set(bytes(ctx, c + BigInt(s.nargs! * 8), 8, 'ctx'));
        return 0n;
      },
    ],
  ];
}

/** sizeof(struct pt_regs) on x86-64. */
export const PT_REGS_SIZE = 168;
/** struct bpf_perf_event_data: the registers, then sample_period and addr (u64 each). */
export const PERF_EVENT_DATA_SIZE = PT_REGS_SIZE + 16;
// Offsets in x86-64's struct pt_regs of the argument registers (di, si, dx, cx, r8, r9), ax and ip.
const PT_REGS_PARM = [112, 104, 96, 88, 72, 64];
const PT_REGS_AX = 80;
const PT_REGS_IP = 128;

/**
 * A kprobe's struct pt_regs on x86-64 at a function's entry (arguments in
 * di, si, dx, cx, r8, r9) or return (ax), with ip: what PT_REGS_PARM1..6,
 * PT_REGS_RC and PT_REGS_IP read.
 */
export function ptRegs(args: readonly (bigint | number)[], ret: bigint | number | undefined, ip: bigint, what: string): Uint8Array {
  if (args.length > PT_REGS_PARM.length)
    throw new BpfError('USAGE', `${what}: a kprobe's registers hold ${PT_REGS_PARM.length} arguments, not ${args.length} (give the struct pt_regs as ctx for more)`);
  const regs = new Uint8Array(PT_REGS_SIZE);
  const dv = new DataView(regs.buffer);
  const words = argsBytes(args, true, what);
  args.forEach((_, i) => regs.set(words.subarray(i * 8, i * 8 + 8), PT_REGS_PARM[i]!));
  if (ret !== undefined) dv.setBigUint64(PT_REGS_AX, u64Option(ret, 'ret', what), true);
  dv.setBigUint64(PT_REGS_IP, ip, true);
  return regs;
}

/** The common fields at the start of every tracepoint record (type, flags, preempt count, pid). */
const TRACE_ENTRY_SIZE = 8;

/**
 * A tracepoint record as the verifier lets a program read it: from offset 8
 * (the common fields before are refused), read-only. (The memory checks the
 * record's end before a hook is asked.)
 */
export function tracepointRecordHooks(record: Uint8Array): RegionHooks {
  const dv = new DataView(record.buffer, record.byteOffset, record.byteLength);
  const refuse = (why: string): never => refuseAccess('tracepoint record', why);
  return {
    load(off, size) {
      if (off < TRACE_ENTRY_SIZE) refuse(`a ${size}-byte read at offset ${off}: the first ${TRACE_ENTRY_SIZE} bytes (common_type, common_flags, common_preempt_count, common_pid) are not readable`);
      if (size === 8) {
        const v = dv.getBigUint64(off, true);
        return v < 2n ** 53n ? Number(v) : v;
      }
      return size === 4 ? dv.getUint32(off, true) : size === 2 ? dv.getUint16(off, true) : dv.getUint8(off);
    },
    store: (off, size) => refuse(`a ${size}-byte write at offset ${off}: the record is read-only`),
  };
}
