// cgroup sockopt programs (cgroup/setsockopt, cgroup/getsockopt) in the
// emulator. The kernel has no test run for them: it runs them inside
// setsockopt(2) and getsockopt(2) on a socket of the cgroup
// (__cgroup_bpf_run_filter_setsockopt/_getsockopt), on a struct bpf_sockopt
// over a copy of the option: for setsockopt the caller's bytes in a buffer
// of at least 16 (the program may hand the kernel a longer value, change
// level and optname, or answer the call itself with optlen -1); for
// getsockopt the kernel's answer (or its error, in retval) in a buffer the
// size of the caller's, which the program may rewrite, shorten, or clear
// the error of. What the call then does follows from optlen, as below.

import { BpfError } from '../errors.js';
import { BPF_ATTACH_TYPE } from '../uapi/bpf.js';
import { PAGE_SIZE, refuseAccess } from './context.js';
import { Memory, type Region, type RegionHooks } from './memory.js';
import { EFAULT } from './skb.js';

/** sizeof(struct bpf_sockopt): sk, optval, optval_end (pointers), level, optname, optlen, retval (s32). */
export const SOCKOPT_CTX_SIZE = 40;
const F = { sk: 0, optval: 8, optvalEnd: 16, level: 24, optname: 28, optlen: 32, retval: 36 };

/** One setsockopt or getsockopt call, for a cgroup sockopt program's run. */
export interface SockoptCall {
  /** SOL_SOCKET (1), SOL_IP (0), SOL_TCP (6), … */
  level: number;
  /** SO_MARK (36), IP_TOS (1), TCP_CONGESTION (13), … */
  optname: number;
  /**
   * setsockopt: the caller's value. getsockopt: what the kernel's own
   * getsockopt answered (its first `optlen` bytes; ignored when `error` is set).
   */
  optval: Uint8Array;
  /**
   * setsockopt: the caller's optlen (default optval's length; more than a
   * page and the program's buffer is only a page). getsockopt: the size of
   * the caller's buffer (default optval's length).
   */
  optlen?: number;
  /** getsockopt: the kernel's own getsockopt failed with this errno (a positive number: 92 for ENOPROTOOPT). */
  error?: number;
}

/** What a sockopt run leaves for the call (EmulatedTestRun.sockopt). */
export interface SockoptOutcome {
  /**
   * setsockopt: the level, optname and value the kernel's setsockopt is
   * called with — null when it is not (the program answered the call with
   * optlen -1, or the call fails). getsockopt: the bytes the caller's buffer
   * gets and the length *optlen gets — the program's, or the kernel's answer
   * when it left optlen 0; null when the call fails or the buffer is left
   * untouched.
   */
  level: number;
  optname: number;
  optval: Buffer | null;
  optlen: number;
}

/** The hook of a sockopt program, or a USAGE error. */
export function sockoptHook(program: string, attach: number | null): 'setsockopt' | 'getsockopt' {
  if (attach === BPF_ATTACH_TYPE.CGROUP_SETSOCKOPT) return 'setsockopt';
  if (attach === BPF_ATTACH_TYPE.CGROUP_GETSOCKOPT) return 'getsockopt';
  throw new BpfError('USAGE', `program ${program}: a cgroup sockopt program's hook is cgroup/setsockopt or cgroup/getsockopt (its section says neither)`);
}

/** The run of one call: struct bpf_sockopt_kern's fields and the buffer the program sees. */
export class SockoptRun {
  level: number;
  optname: number;
  optlen: number;
  /** The program's buffer (optval .. optval_end). */
  readonly buf: Uint8Array;
  /** setsockopt: the caller's optlen; getsockopt: the length the kernel answered (or the caller's buffer size when it failed). */
  readonly origOptlen: number;
  /** getsockopt: the cgroup run's retval to start from (0 or -errno). */
  readonly retval: number;

  constructor(
    readonly hook: 'setsockopt' | 'getsockopt',
    readonly call: SockoptCall,
    what: string,
  ) {
    const refuse = (why: string): never => {
      throw new BpfError('USAGE', `${what} (${hook}): ${why}`);
    };
    for (const k of ['level', 'optname'] as const) if (!Number.isInteger(call[k]) || call[k] < -(2 ** 31) || call[k] >= 2 ** 31) refuse(`${k} ${call[k]} is not an int`);
    const optlen = call.optlen ?? call.optval.length;
    // The kernel fails a negative optlen with EINVAL before any program runs.
    if (!Number.isInteger(optlen) || optlen < 0 || optlen >= 2 ** 31) refuse(`optlen ${optlen}: the caller's length is 0 or more (a negative one fails with EINVAL before the hook)`);
    this.level = call.level;
    this.optname = call.optname;
    if (hook === 'setsockopt') {
      if (call.error !== undefined) refuse('error is the kernel getsockopt answer: setsockopt runs the program first');
      // At least 16 bytes, so a program may hand the kernel a longer value than the caller's; at most a page.
      this.buf = new Uint8Array(Math.min(Math.max(16, optlen), PAGE_SIZE));
      this.buf.set(call.optval.subarray(0, Math.min(optlen, this.buf.length)));
      this.optlen = this.origOptlen = optlen;
      this.retval = 0;
    } else {
      this.buf = new Uint8Array(Math.min(optlen, PAGE_SIZE));
      this.optlen = optlen;
      if (call.error !== undefined) {
        if (!Number.isInteger(call.error) || call.error <= 0 || call.error > 4095) refuse(`error ${call.error} is not an errno`);
        this.retval = -call.error;
        this.origOptlen = optlen;
      } else {
        // The kernel's answer, as much as the buffer holds; optlen is its length.
        this.retval = 0;
        this.optlen = this.origOptlen = call.optval.length;
        if (call.optval.length > optlen) refuse(`the kernel answered ${call.optval.length} bytes into a ${optlen}-byte buffer`);
        this.buf.set(call.optval.subarray(0, this.buf.length));
      }
    }
  }

  /** What the call does after the run, given the cgroup run's result: [its result, the outcome]. */
  finish(ret: number): [number, SockoptOutcome] {
    const none = (r: number): [number, SockoptOutcome] => [r, { level: this.level, optname: this.optname, optval: null, optlen: this.optlen }];
    const cap = this.buf.length;
    if (this.hook === 'setsockopt') {
      const orig = (): SockoptOutcome => ({ level: this.call.level, optname: this.call.optname, optval: Buffer.from(this.call.optval.subarray(0, this.origOptlen)), optlen: this.origOptlen });
      // An error fails the call; a positive retval, like optlen -1, answers it without the kernel's setsockopt.
      if (ret !== 0) return none(ret < 0 ? ret : 0);
      if (this.optlen === -1) return none(0);
      if (this.optlen > cap || this.optlen < -1) {
        // A caller's value past a page: the program's buffer was only a page, the kernel takes the caller's.
        if (this.origOptlen > PAGE_SIZE && this.optlen >= 0) return [0, orig()];
        return none(-EFAULT);
      }
      if (this.optlen === 0) return [0, { ...orig(), level: this.level, optname: this.optname }];
      return [0, { level: this.level, optname: this.optname, optval: Buffer.from(this.buf.subarray(0, this.optlen)), optlen: this.optlen }];
    }
    if (ret < 0) return none(ret);
    if (this.optlen > cap || this.optlen < 0) {
      // An answer past a page: the caller keeps the kernel's, and its result.
      if (this.origOptlen > PAGE_SIZE && this.optlen >= 0) return this.retval === 0 ? [this.retval, this.kernelAnswer()] : none(this.retval);
      return none(-EFAULT);
    }
    if (this.optlen !== 0) return [ret, { level: this.level, optname: this.optname, optval: Buffer.from(this.buf.subarray(0, this.optlen)), optlen: this.optlen }];
    // optlen 0: the caller's buffer and length are left as the kernel's getsockopt wrote them (nothing, when it failed).
    return this.retval === 0 ? [ret, this.kernelAnswer()] : [ret, { level: this.level, optname: this.optname, optval: null, optlen: this.call.optlen ?? this.call.optval.length }];
  }

  private kernelAnswer(): SockoptOutcome {
    return { level: this.level, optname: this.optname, optval: Buffer.from(this.call.optval), optlen: this.call.optval.length };
  }
}

/**
 * struct bpf_sockopt for a run (cg_sockopt_is_valid_access): sk, optval and
 * optval_end read as 8-byte pointers (the socket; the buffer's start and
 * end), level, optname and optlen as 4-byte ints; optlen written by both
 * hooks, level and optname by setsockopt, retval (the cgroup run's, as
 * bpf_get_retval/bpf_set_retval) read and written by getsockopt only.
 */
export function sockoptContext(memory: Memory, run: SockoptRun, sk: Region, optval: Region, retval: { get(): number; set(v: number): void }): Region {
  const refuse = (what: string): never => refuseAccess(`bpf_sockopt (${run.hook})`, what);
  const get = run.hook === 'getsockopt';
  const hooks: RegionHooks = {
    load(off, size) {
      const bad = () => refuse(`a ${size}-byte read at offset ${off}`);
      if (off < 0 || off >= SOCKOPT_CTX_SIZE || off % size !== 0) bad();
      if (off < F.level) {
        if (size !== 8) bad();
        return off === F.sk ? Memory.addressValue(sk.id) : Memory.addressValue(optval.id, off === F.optval ? 0 : optval.bytes.length);
      }
      if (size !== 4 || (off === F.retval && !get)) bad();
      const v = off === F.level ? run.level : off === F.optname ? run.optname : off === F.optlen ? run.optlen : retval.get();
      return v >>> 0;
    },
    store(off, size, value) {
      const bad = () => refuse(`a ${size}-byte write at offset ${off}`);
      if (off < 0 || off >= SOCKOPT_CTX_SIZE || off % size !== 0 || size !== 4) bad();
      const v = Number(BigInt.asIntN(32, value));
      if (off === F.optlen) run.optlen = v;
      else if (off === F.retval && get) retval.set(v);
      else if ((off === F.level || off === F.optname) && !get) {
        if (off === F.level) run.level = v;
        else run.optname = v;
      } else bad();
    },
  };
  return memory.add(`bpf_sockopt (${run.hook})`, new Uint8Array(SOCKOPT_CTX_SIZE), { kind: 'context', writable: true, hooks });
}
