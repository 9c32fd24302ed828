// A program in the kernel, owned by its fd.

import { BpfError } from '../errors.js';
import { BPF_PROG_GET_FD_BY_ID } from '../sys/bpf-cmd.js';
import { checkPinPath } from '../sys/bpffs.js';
import { Fd, fdKind } from '../sys/fd.js';
import { type ProgInfo, progInfo } from '../sys/info.js';
import { getFdById, objGet } from '../sys/obj-attr.js';
import { progTestRun, progTestRunContext, type TestRunResult } from '../sys/prog-attr.js';
import { BPF_PROG_TYPE, progTypeName, verdictName } from '../uapi/bpf.js';
import { pinFd } from '../maps/pin.js';
import { checkU32 } from '../maps/map.js';
import { type XlatedProgram, xlatedProgram } from './xlated.js';

/** Program types the kernel test-runs on a context alone (no packet, no repeat). */
export const CONTEXT_ONLY: ReadonlySet<number> = new Set([BPF_PROG_TYPE.SYSCALL, BPF_PROG_TYPE.RAW_TRACEPOINT, BPF_PROG_TYPE.STRUCT_OPS]);

export { XDP_ACTIONS, verdictName } from '../uapi/bpf.js';

export interface TestRunOptions {
  repeat?: number;
  /** Context struct to pass (e.g. struct xdp_md / __sk_buff), raw bytes. */
  ctx?: Uint8Array;
}

export interface ProgramTestRun extends TestRunResult {
  /** XDP_* / TC_ACT_* name of retval, when the type has one. */
  verdict: string | null;
}

export class BpfProgram {
  readonly fd: Fd;
  readonly name: string;
  readonly type: number;

  constructor(fd: Fd, name: string, type: number) {
    this.fd = fd;
    this.name = name;
    this.type = type;
  }

  /**
   * Open a pinned program. Like every pin bpf-ts opens, the path must not be
   * a symlink and must belong to the caller or root (PIN_UNSAFE otherwise);
   * a pin of a map or link is a BpfError saying what it is.
   */
  static fromPin(path: string): BpfProgram {
    const abs = checkPinPath(path, 'program');
    const fd = new Fd(objGet(abs, 0, `pinned program ${abs}`), `program ${abs}`);
    try {
      const kind = fdKind(fd.value);
      if (kind !== 'prog') throw new BpfError('PROGRAM_INVALID', `${abs} is a pinned ${kind}, not a program${kind === 'map' ? ' (see bpf-ts map)' : kind === 'link' ? ' (see bpf-ts link)' : ''}`);
      const info = progInfo(fd.value);
      return new BpfProgram(fd, info.name, info.type);
    } catch (e) {
      fd.close();
      throw e;
    }
  }

  /** Open a program by kernel id. */
  static fromId(id: number): BpfProgram {
    checkU32(id, 'id', 'BpfProgram.fromId', 1);
    const raw = getFdById(BPF_PROG_GET_FD_BY_ID, id);
    if (raw === null) throw new BpfError('PROGRAM_NOT_FOUND', `no program with id ${id}`);
    const fd = new Fd(raw, `program id ${id}`);
    const info = progInfo(fd.value);
    return new BpfProgram(fd, info.name, info.type);
  }

  get typeName(): string {
    return progTypeName(this.type);
  }

  info(): ProgInfo {
    return progInfo(this.fd.value, {}, `program ${this.name}`);
  }

  get id(): number {
    return this.info().id;
  }

  /**
   * The instructions as the kernel runs them, after the verifier's rewrites
   * (what `bpftool prog dump xlated` shows), with maps, globals, calls and C
   * source lines named. Needs CAP_BPF; helper names also need the kernel to
   * show this process addresses (CAP_SYSLOG; see `addressesShown`).
   */
  xlated(): XlatedProgram {
    return xlatedProgram(this.fd.value, `program ${this.name}`);
  }

  /**
   * BPF_PROG_TEST_RUN on a frame (XDP, TC, socket filter, …). Syscall, raw
   * tracepoint and struct_ops programs take no frame, only `ctx` (their
   * arguments, u64 each; a syscall program's context comes back in
   * `ctxOut`): pass an empty `data`. The kernel test-runs struct_ops
   * programs of bpf_dummy_ops only.
   */
  testRun(data: Uint8Array, opts: TestRunOptions = {}): ProgramTestRun {
    // repeat is a __u32: -1 would become 4294967295 runs and block this thread for minutes.
    if (opts.repeat !== undefined) checkU32(opts.repeat, 'repeat', `program ${this.name}: testRun`);
    if (CONTEXT_ONLY.has(this.type)) {
      if (data.byteLength > 0 || (opts.repeat ?? 1) > 1) {
        throw new BpfError('USAGE', `program ${this.name}: a ${this.typeName} program runs on its context only (testRun(new Uint8Array(0), { ctx })), once`);
      }
      return { ...progTestRunContext(this.fd.value, opts.ctx, `program ${this.name}`), verdict: null };
    }
    // A socket lookup takes its struct bpf_sk_lookup only, and refuses (EINVAL) even an empty output buffer.
    const contextOnly = this.type === BPF_PROG_TYPE.SK_LOOKUP;
    if (contextOnly && data.byteLength > 0) throw new BpfError('USAGE', `program ${this.name}: a sk_lookup program runs on its struct bpf_sk_lookup ctx only (testRun(new Uint8Array(0), { ctx }))`);
    const r = progTestRun(this.fd.value, data, { repeat: opts.repeat, ctxIn: opts.ctx, contextOnly }, `program ${this.name}`);
    return { ...r, verdict: verdictName(this.type, r.retval) };
  }

  /**
   * Pin on bpffs so the program outlives this process. Refuses to replace an
   * existing pin. `mkdir`: make missing directories (0700); returns those it made.
   */
  pin(path: string, opts: { mkdir?: boolean } = {}): string[] {
    return pinFd(this.fd.value, path, { ...opts, label: `program ${this.name}` });
  }

  close(): void {
    this.fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
