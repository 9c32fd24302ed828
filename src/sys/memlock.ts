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

/** Whether the current soft limit is finite (so it could be the cause of EPERM). */
export function memlockIsLimited(): boolean {
  const lim = ffi.getMemlock();
  return typeof lim !== 'number' && lim.cur !== RLIM_INFINITY;
}

/**
 * Raise RLIMIT_MEMLOCK to infinity. Returns true when the limit is (now)
 * infinite. Needs CAP_SYS_RESOURCE to raise the hard limit; without it the
 * limit stays as it was and false is returned.
 */
export function raiseMemlock(): boolean {
  if (!memlockIsLimited()) return true;
  const ok = ffi.setMemlock(RLIM_INFINITY, RLIM_INFINITY) === 0;
  raised ||= ok;
  return ok;
}

/**
 * Run a bpf() command (returning a result or -errno); if it fails with EPERM
 * and RLIMIT_MEMLOCK is finite and not yet raised by us, raise it and run the
 * command once more.
 */
export function withMemlockRetry(call: () => number): number {
  const r = call();
  if (r !== -EPERM || raised || !memlockIsLimited()) return r;
  if (!raiseMemlock()) return r;
  return call();
}
