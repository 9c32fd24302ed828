// RLIMIT_MEMLOCK. Before Linux 5.11 every map and program was charged against
// the locked-memory rlimit (often 64 KiB), so loaders raised it to infinity.
// Since 5.11 memory is charged to the memory cgroup and the rlimit is ignored.
//
// Rather than guess the kernel's accounting from its version, bpf-ts raises
// the limit lazily: when a creating command fails with EPERM while the limit
// is finite, raise it once and retry. On modern kernels this never triggers,
// and a real missing capability still fails (the retry fails the same way).

import * as ffi from './ffi.js';
import { EPERM } from './errno.js';

const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

let raised = false;

/** Soft and hard RLIMIT_MEMLOCK in bytes; null for infinity. */
export function memlockLimit(): { cur: bigint | null; max: bigint | null } {
  const lim = ffi.getMemlock();
  if (typeof lim === 'number') return { cur: null, max: null }; // getrlimit cannot fail for a valid resource
  const fin = (v: bigint) => (v === RLIM_INFINITY ? null : v);
  return { cur: fin(lim.cur), max: fin(lim.max) };
}

/** Whether the current soft limit is finite (so it could be the cause of EPERM). */
export function memlockIsLimited(): boolean {
  return memlockLimit().cur !== null;
}

/**
 * Raise RLIMIT_MEMLOCK to infinity; returns true when it is (now) infinite.
 * Raising the hard limit needs CAP_SYS_RESOURCE; without it the soft limit
 * is raised as far as the hard limit allows and false is returned.
 */
export function raiseMemlock(): boolean {
  if (!memlockIsLimited()) return true;
  if (ffi.setMemlock(RLIM_INFINITY, RLIM_INFINITY) === 0) {
    raised = true;
    return true;
  }
  const lim = ffi.getMemlock();
  if (typeof lim !== 'number' && lim.cur < lim.max && ffi.setMemlock(lim.max, lim.max) === 0) raised = true;
  return false;
}

/**
 * Run a bpf() command (returning a result or -errno); if it fails with EPERM
 * and RLIMIT_MEMLOCK is finite and not yet raised by us, raise it and run the
 * command once more.
 */
export function withMemlockRetry(call: () => number): number {
  const r = call();
  if (r !== -EPERM || raised || !memlockIsLimited()) return r;
  raiseMemlock();
  return raised ? call() : r;
}
