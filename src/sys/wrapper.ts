// The one way bpf-ts issues bpf(): every command goes through bpfRaw() or
// bpfRawAt() here (a test greps src/ for any other caller of ffi.bpf), so
// every command gets the same retries. bpfRaw* return the result or -errno
// (hot paths such as single-element map ops treat ENOENT as "absent" without
// an exception); bpfSyscall() throws a BpfSyscallError instead.

import * as ffi from './ffi.js';
import { BPF_PROG_LOAD, BPF_PROG_TEST_RUN } from './bpf-cmd.js';
import { EAGAIN, EINTR } from './errno.js';
import { BpfSyscallError, type SyscallErrorInfo } from './syscall-error.js';

/** Attempts in all, the first included (libbpf's PROG_LOAD also makes 5). */
export const MAX_BPF_ATTEMPTS = 5;

/**
 * Whether a failed command may simply be issued again. A signal can
 * interrupt any long command (PROG_LOAD verifying, a big MAP_CREATE): it
 * failed without side effect, so EINTR is retried for every command but
 * PROG_TEST_RUN.
 * PROG_LOAD also reports EAGAIN when the verifier was interrupted by a
 * pending signal or ran out of a transient resource; libbpf retries it.
 */
export function isRetryable(cmd: number, errno: number): boolean {
  // Except PROG_TEST_RUN: the kernel returns EINTR after running some of the
  // repeats, whose side effects (map writes, events) are real; running them
  // again would double them.
  if (cmd === BPF_PROG_TEST_RUN) return false;
  return errno === EINTR || (errno === EAGAIN && cmd === BPF_PROG_LOAD);
}

/** What bpfRaw* call underneath: ffi's syscall, or a test's fake (withBpfSyscall). */
export type RawBpfCall = (cmd: number, attr: Uint8Array | number, size: number) => number;

let rawBpf: (cmd: number, attr: Uint8Array, size: number) => number = ffi.bpf;
let rawBpfAt: (cmd: number, attr: number, size: number) => number = ffi.bpfAt;

/**
 * Run `fn` with the syscall underneath bpfRaw/bpfRawAt replaced by `fake`
 * (restored afterwards, even on a throw): the seam that lets a test inject
 * EINTR/EAGAIN and count attempts. Synchronous callbacks only.
 */
export function withBpfSyscall<T>(fake: RawBpfCall, fn: () => T): T {
  const saved = [rawBpf, rawBpfAt] as const;
  rawBpf = fake;
  rawBpfAt = fake;
  try {
    return fn();
  } finally {
    [rawBpf, rawBpfAt] = saved;
  }
}

/** bpf(cmd, attr, size) with the retries; returns the result or -errno. */
export function bpfRaw(cmd: number, attr: Uint8Array, size: number = attr.byteLength): number {
  let r = rawBpf(cmd, attr, size);
  for (let attempt = 1; r < 0 && attempt < MAX_BPF_ATTEMPTS && isRetryable(cmd, -r); attempt++) r = rawBpf(cmd, attr, size);
  return r;
}

/**
 * bpf() with `attr` given by the address of native memory (ffi.allocNative),
 * the map-element hot path; same retries. Returns the result or -errno.
 */
export function bpfRawAt(cmd: number, attr: number, size: number): number {
  const r = rawBpfAt(cmd, attr, size);
  // Success returns at once; failures (ENOENT on a missing key, EINTR) take
  // the out-of-line retry path, which keeps this hot function small.
  return r >= 0 ? r : retryAt(cmd, attr, size, r);
}

/** bpfRawAt's retries after a first failure `r`. */
function retryAt(cmd: number, attr: number, size: number, r: number): number {
  for (let attempt = 1; r < 0 && attempt < MAX_BPF_ATTEMPTS && isRetryable(cmd, -r); attempt++) r = rawBpfAt(cmd, attr, size);
  return r;
}

/**
 * bpf(cmd, attr, size). Returns the non-negative result (often a new fd).
 * @param context names the object in the error message, e.g. `map "counters"`.
 */
export function bpfSyscall(cmd: number, attr: Uint8Array, size: number = attr.byteLength, context?: string, info?: SyscallErrorInfo): number {
  const r = bpfRaw(cmd, attr, size);
  if (r < 0) throw new BpfSyscallError(cmd, -r, context, info);
  return r;
}

/** The error for a raw negative bpfRaw result. */
export function syscallError(cmd: number, result: number, context?: string, info?: SyscallErrorInfo): BpfSyscallError {
  return new BpfSyscallError(cmd, -result, context, info);
}
