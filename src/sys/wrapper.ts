// The one way the kernel layer issues bpf(): call, and turn -errno into a
// BpfSyscallError. Hot paths (single-element map ops) call ffi.bpf directly to
// treat ENOENT as "absent" without an exception, and use syscallError() only
// on the failure path.

import * as ffi from './ffi.js';
import { EINTR } from './errno.js';
import { BpfSyscallError, type SyscallErrorInfo } from './syscall-error.js';

// A signal can interrupt long commands (PROG_LOAD, big MAP_CREATE); the call
// has no side effect when it fails that way, so retrying is safe.
const MAX_EINTR_RETRIES = 5;

/**
 * bpf(cmd, attr, size). Returns the non-negative result (often a new fd).
 * @param context names the object in the error message, e.g. `map "counters"`.
 */
export function bpfSyscall(cmd: number, attr: Uint8Array, size: number = attr.byteLength, context?: string, info?: SyscallErrorInfo): number {
  for (let attempt = 0; ; attempt++) {
    const r = ffi.bpf(cmd, attr, size);
    if (r >= 0) return r;
    if (-r === EINTR && attempt < MAX_EINTR_RETRIES) continue;
    throw new BpfSyscallError(cmd, -r, context, info);
  }
}

/** The error for a raw negative ffi.bpf result. */
export function syscallError(cmd: number, result: number, context?: string, info?: SyscallErrorInfo): BpfSyscallError {
  return new BpfSyscallError(cmd, -result, context, info);
}
