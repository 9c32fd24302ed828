// union bpf_attr codecs for the attach commands that predate bpf_link:
// BPF_PROG_ATTACH, BPF_PROG_DETACH (cgroups, sockmaps, tcx without a link)
// and BPF_PROG_QUERY (who is attached to a cgroup, sockmap or tcx hook).

import { BpfError } from '../errors.js';
import * as cmd from './bpf-cmd.js';
import { E2BIG, ENOSPC } from './errno.js';
import { readU32, readU64, writeU32, writeU64 } from './endian.js';
import * as ffi from './ffi.js';
import { BpfSyscallError } from './syscall-error.js';
import { bpfSyscall } from './wrapper.js';

// struct { u32 target_fd|target_ifindex; u32 attach_bpf_fd; u32 attach_type; u32 attach_flags;
//          u32 replace_bpf_fd; u32 relative_fd|relative_id; u64 expected_revision; }
const ATTACH_TARGET = 0;
const ATTACH_BPF_FD = 4;
const ATTACH_TYPE = 8;
const ATTACH_FLAGS = 12;
const ATTACH_REPLACE_FD = 16;
const ATTACH_RELATIVE = 20;
const ATTACH_EXPECTED_REVISION = 24;
const ATTACH_ATTR_SIZE = 32;

// struct { u32 target_fd|target_ifindex; u32 attach_type; u32 query_flags; u32 attach_flags;
//          u64 prog_ids; u32 prog_cnt|count; u32 :32; u64 prog_attach_flags; u64 link_ids;
//          u64 link_attach_flags (48, not asked for); u64 revision; } query
const QUERY_TARGET = 0;
const QUERY_ATTACH_TYPE = 4;
const QUERY_FLAGS = 8;
const QUERY_ATTACH_FLAGS = 12;
const QUERY_PROG_IDS = 16;
const QUERY_COUNT = 24;
const QUERY_PROG_ATTACH_FLAGS = 32;
const QUERY_LINK_IDS = 40;
const QUERY_REVISION = 56;
const QUERY_ATTR_SIZE = 64;

// attach_flags (bpf.h)
export const BPF_F_ALLOW_OVERRIDE = 1 << 0;
export const BPF_F_ALLOW_MULTI = 1 << 1;
export const BPF_F_REPLACE = 1 << 2;
/** mprog (tcx) position flags: relative to the program named by `relative` (an fd, or an id with BPF_F_ID); alone, the first/last. */
export const BPF_F_BEFORE = 1 << 3;
export const BPF_F_AFTER = 1 << 4;
export const BPF_F_ID = 1 << 5;
/** query_flags: what runs for the target, inherited programs included (cgroups). */
export const BPF_F_QUERY_EFFECTIVE = 1 << 0;

export interface ProgAttachAttr {
  /** target_fd (cgroup directory, sockmap) or target_ifindex (tcx). */
  target: number;
  progFd: number;
  /** enum bpf_attach_type */
  attachType: number;
  flags?: number;
  /** With BPF_F_REPLACE: the program to swap out. */
  replaceFd?: number;
  relative?: number;
  expectedRevision?: bigint;
}

function attachAttr(a: ProgAttachAttr): Buffer {
  const attr = Buffer.alloc(ATTACH_ATTR_SIZE);
  writeU32(attr, ATTACH_TARGET, a.target);
  writeU32(attr, ATTACH_BPF_FD, a.progFd);
  writeU32(attr, ATTACH_TYPE, a.attachType);
  writeU32(attr, ATTACH_FLAGS, a.flags ?? 0);
  writeU32(attr, ATTACH_REPLACE_FD, a.replaceFd ?? 0);
  writeU32(attr, ATTACH_RELATIVE, a.relative ?? 0);
  writeU64(attr, ATTACH_EXPECTED_REVISION, a.expectedRevision ?? 0n);
  return attr;
}

/** BPF_PROG_ATTACH; throws BpfSyscallError. */
export function progAttach(a: ProgAttachAttr, context?: string): void {
  bpfSyscall(cmd.BPF_PROG_ATTACH, attachAttr(a), ATTACH_ATTR_SIZE, context);
}

/** BPF_PROG_DETACH. progFd names which program to remove (required for multi-program hooks). */
export function progDetach(a: Omit<ProgAttachAttr, 'progFd'> & { progFd?: number }, context?: string): void {
  bpfSyscall(cmd.BPF_PROG_DETACH, attachAttr({ ...a, progFd: a.progFd ?? 0 }), ATTACH_ATTR_SIZE, context);
}

export interface ProgQueryResult {
  /** The hook's attach flags (cgroups: BPF_F_ALLOW_MULTI, …). */
  attachFlags: number;
  progIds: number[];
  /** Per program, where the kernel reports them (cgroups, tcx); else zeros. */
  progAttachFlags: number[];
  /** Per program: the bpf_link holding it, 0 when attached without one (tcx/netkit only; else zeros). */
  linkIds: number[];
  /** tcx/netkit: the hook's revision, bumped on every change. */
  revision: bigint;
}

export interface ProgQueryOptions {
  effective?: boolean;
  /** Ask for link ids too; only tcx/netkit (mprog) hooks report them. */
  linkIds?: boolean;
  /** Ask for per-program attach flags (refused with effective). */
  progAttachFlags?: boolean;
}

/**
 * BPF_PROG_QUERY: the programs attached to `target` for `attachType`. Asks
 * for the count first, then for that many ids (again, bigger, if programs
 * were attached in between).
 */
export function progQuery(target: number, attachType: number, opts: ProgQueryOptions = {}, context?: string): ProgQueryResult {
  let capacity = 0;
  for (let attempt = 0; ; attempt++) {
    const attr = Buffer.alloc(QUERY_ATTR_SIZE);
    writeU32(attr, QUERY_TARGET, target);
    writeU32(attr, QUERY_ATTACH_TYPE, attachType);
    writeU32(attr, QUERY_FLAGS, opts.effective ? BPF_F_QUERY_EFFECTIVE : 0);
    const ids = capacity ? ffi.allocNative(capacity * 4) : undefined;
    const flags = capacity && opts.progAttachFlags && !opts.effective ? ffi.allocNative(capacity * 4) : undefined;
    const links = capacity && opts.linkIds ? ffi.allocNative(capacity * 4) : undefined;
    if (ids) writeU64(attr, QUERY_PROG_IDS, ids.address);
    if (flags) writeU64(attr, QUERY_PROG_ATTACH_FLAGS, flags.address);
    if (links) writeU64(attr, QUERY_LINK_IDS, links.address);
    writeU32(attr, QUERY_COUNT, capacity);
    try {
      bpfSyscall(cmd.BPF_PROG_QUERY, attr, QUERY_ATTR_SIZE, context);
    } catch (e) {
      // ENOSPC (E2BIG for some hooks): more programs than room; the count is updated, go again.
      if (e instanceof BpfSyscallError && (e.errno === ENOSPC || e.errno === E2BIG) && attempt < 5) {
        capacity = Math.max(readU32(attr, QUERY_COUNT), capacity + 1);
        continue;
      }
      throw e;
    }
    const count = readU32(attr, QUERY_COUNT);
    if (count > capacity) {
      if (attempt >= 5) throw new BpfError('SYSCALL', `BPF_PROG_QUERY${context ? ` (${context})` : ''}: the program count keeps growing (${count}); try again`);
      capacity = count;
      continue;
    }
    const read = (mem: ffi.NativeBuffer | undefined) => Array.from({ length: count }, (_, i) => (mem ? readU32(mem.bytes, i * 4) : 0));
    return {
      attachFlags: readU32(attr, QUERY_ATTACH_FLAGS),
      progIds: read(ids),
      progAttachFlags: read(flags),
      linkIds: read(links),
      revision: readU64(attr, QUERY_REVISION),
    };
  }
}
