// union bpf_attr codecs for the bpf_link family: LINK_CREATE (every target
// kind: device, cgroup, perf event, BTF function, iterator), LINK_UPDATE,
// LINK_DETACH, ITER_CREATE, RAW_TRACEPOINT_OPEN and ENABLE_STATS.

import * as ffi from './ffi.js';
import * as cmd from './bpf-cmd.js';
import { writeU32, writeU64 } from './endian.js';
import { BPF_F_REPLACE } from './prog-attach-attr.js';
import { bpfSyscall } from './wrapper.js';

// struct { u32 prog_fd; u32 target_fd|target_ifindex; u32 attach_type; u32 flags; union {…}; } link_create
const LINK_CREATE_ATTR_SIZE = 64; // header (16) + the largest union member we fill, zero tail
const U = 16;

export interface LinkCreateAttr {
  progFd: number;
  /** target_ifindex (XDP, tcx, netkit), target_fd (cgroup, netns, perf event), 0 for BTF targets. */
  target: number;
  /** enum bpf_attach_type */
  attachType: number;
  flags?: number;
  /** tracing: target_btf_id (freplace/fentry against a program's BTF; 0 = the one given at load). */
  targetBtfId?: number;
  /** tracing and perf_event: the value bpf_get_attach_cookie() returns. */
  cookie?: bigint;
  /** iter: struct bpf_iter_link_info (e.g. a map fd for map iterators). */
  iterInfo?: Uint8Array;
  /** BPF_TRACE_UPROBE_MULTI: one link on many file offsets of one file. */
  uprobeMulti?: UprobeMultiAttr;
  /** BPF_TRACE_KPROBE_MULTI: one link on many kernel functions. */
  kprobeMulti?: KprobeMultiAttr;
  /** BPF_NETFILTER: the family, hook and priority of a netfilter hook in the caller's network namespace. */
  netfilter?: { pf: number; hooknum: number; priority: number; flags: number };
}

/** BPF_F_UPROBE_MULTI_RETURN / BPF_F_KPROBE_MULTI_RETURN: attach at function return. */
export const BPF_F_MULTI_RETURN = 1;

export interface UprobeMultiAttr {
  path: string;
  /** File offsets (unsigned long each). */
  offsets: readonly number[];
  /** One cookie per offset, or none. */
  cookies?: readonly bigint[];
  flags: number;
  /** Only this process; 0 = every process that maps the file. */
  pid: number;
}

export interface KprobeMultiAttr {
  /** Kernel function names. */
  syms: readonly string[];
  /** One cookie per function, or none. */
  cookies?: readonly bigint[];
  flags: number;
}

/** An array of u64 in native memory (the kernel copies it during the call). */
function u64Array(values: readonly bigint[]): ffi.NativeBuffer {
  const mem = ffi.allocNative(8 * Math.max(values.length, 1));
  values.forEach((v, i) => writeU64(mem.bytes, 8 * i, v));
  return mem;
}

/** BPF_LINK_CREATE. Returns the new link fd; throws BpfSyscallError. */
export function linkCreate(a: LinkCreateAttr, context?: string): number {
  const attr = Buffer.alloc(LINK_CREATE_ATTR_SIZE);
  writeU32(attr, 0, a.progFd);
  writeU32(attr, 4, a.target);
  writeU32(attr, 8, a.attachType);
  writeU32(attr, 12, a.flags ?? 0);
  let keep: ffi.NativeBuffer | ffi.NativeBuffer[] | undefined;
  if (a.uprobeMulti) {
    // union { struct { u64 path; u64 offsets; u64 ref_ctr_offsets; u64 cookies; u32 cnt; u32 flags; u32 pid; } uprobe_multi }
    const m = a.uprobeMulti;
    const path = ffi.nativeCopy(m.path);
    const offsets = u64Array(m.offsets.map(BigInt));
    const cookies = m.cookies ? u64Array(m.cookies) : null;
    keep = [path, offsets, ...(cookies ? [cookies] : [])];
    writeU64(attr, U, path.address);
    writeU64(attr, U + 8, offsets.address);
    writeU64(attr, U + 24, cookies ? cookies.address : 0n);
    writeU32(attr, U + 32, m.offsets.length);
    writeU32(attr, U + 36, m.flags);
    writeU32(attr, U + 40, m.pid);
  } else if (a.kprobeMulti) {
    // union { struct { u32 flags; u32 cnt; u64 syms; u64 addrs; u64 cookies; } kprobe_multi }
    const m = a.kprobeMulti;
    const names = m.syms.map((n) => ffi.nativeCopy(n));
    const syms = u64Array(names.map((n) => n.address));
    const cookies = m.cookies ? u64Array(m.cookies) : null;
    keep = [...names, syms, ...(cookies ? [cookies] : [])];
    writeU32(attr, U, m.flags);
    writeU32(attr, U + 4, m.syms.length);
    writeU64(attr, U + 8, syms.address);
    writeU64(attr, U + 24, cookies ? cookies.address : 0n);
  } else if (a.netfilter) {
    // union { struct { u32 pf; u32 hooknum; s32 priority; u32 flags; } netfilter }
    writeU32(attr, U, a.netfilter.pf);
    writeU32(attr, U + 4, a.netfilter.hooknum);
    writeU32(attr, U + 8, a.netfilter.priority >>> 0);
    writeU32(attr, U + 12, a.netfilter.flags);
  } else if (a.iterInfo) {
    // union { struct { u64 iter_info; u32 iter_info_len; } }
    keep = ffi.nativeCopy(a.iterInfo);
    writeU64(attr, U, keep.address);
    writeU32(attr, U + 8, a.iterInfo.byteLength);
  } else if (a.targetBtfId !== undefined) {
    // union { struct { u32 target_btf_id; u64 cookie; } tracing }
    writeU32(attr, U, a.targetBtfId);
    writeU64(attr, U + 8, a.cookie ?? 0n);
  } else if (a.cookie !== undefined) {
    // union { struct { u64 bpf_cookie; } perf_event }
    writeU64(attr, U, a.cookie);
  }
  const fd = bpfSyscall(cmd.BPF_LINK_CREATE, attr, LINK_CREATE_ATTR_SIZE, context);
  void keep;
  return fd;
}

/** BPF_LINK_UPDATE: swap the link's program atomically. */
export function linkUpdate(linkFd: number, newProgFd: number, opts: { oldProgFd?: number } = {}, context?: string): void {
  // struct { u32 link_fd; u32 new_prog_fd; u32 flags; u32 old_prog_fd; }
  const attr = Buffer.alloc(16);
  writeU32(attr, 0, linkFd);
  writeU32(attr, 4, newProgFd);
  if (opts.oldProgFd !== undefined) {
    writeU32(attr, 8, BPF_F_REPLACE);
    writeU32(attr, 12, opts.oldProgFd);
  }
  bpfSyscall(cmd.BPF_LINK_UPDATE, attr, 16, context);
}

/**
 * BPF_LINK_DETACH: cut the link from its hook (the program stops running)
 * while the link object lives on, defunct, for whoever still holds or pins it.
 */
export function linkDetach(linkFd: number, context?: string): void {
  const attr = Buffer.alloc(4);
  writeU32(attr, 0, linkFd);
  bpfSyscall(cmd.BPF_LINK_DETACH, attr, 4, context);
}

/** BPF_ITER_CREATE: a readable fd that runs the iterator program as it is read. */
export function iterCreate(linkFd: number, context?: string): number {
  // struct { u32 link_fd; u32 flags; }
  const attr = Buffer.alloc(8);
  writeU32(attr, 0, linkFd);
  return bpfSyscall(cmd.BPF_ITER_CREATE, attr, 8, context);
}

/**
 * BPF_RAW_TRACEPOINT_OPEN: attach a raw_tracepoint program to `name`, or a
 * tracing program (tp_btf, fentry, …) to the target given at load (name null).
 * Returns a link fd.
 */
export function rawTracepointOpen(name: string | null, progFd: number, context?: string): number {
  // struct { u64 name; u32 prog_fd; u32 :32; u64 cookie; }
  const attr = Buffer.alloc(24);
  const nameMem = name === null ? null : ffi.nativeCopy(name);
  writeU64(attr, 0, nameMem ? nameMem.address : 0n);
  writeU32(attr, 8, progFd);
  const fd = bpfSyscall(cmd.BPF_RAW_TRACEPOINT_OPEN, attr, 24, context);
  void nameMem;
  return fd;
}

/** enum bpf_stats_type */
export const BPF_STATS_RUN_TIME = 0;

/**
 * BPF_ENABLE_STATS: run-time statistics (run_time_ns, run_cnt) are counted
 * while the returned fd is open; closing it restores the previous state.
 */
export function enableStats(type = BPF_STATS_RUN_TIME, context = 'enable BPF run-time statistics'): number {
  const attr = Buffer.alloc(4);
  writeU32(attr, 0, type);
  return bpfSyscall(cmd.BPF_ENABLE_STATS, attr, 4, context);
}
