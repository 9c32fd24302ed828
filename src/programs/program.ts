// A program in the kernel, owned by its fd.

import { BpfError } from '../errors.js';
import { BPF_PROG_GET_FD_BY_ID } from '../sys/bpf-cmd.js';
import { Fd } from '../sys/fd.js';
import { type ProgInfo, progInfo } from '../sys/info.js';
import { getFdById, objGet } from '../sys/obj-attr.js';
import { progTestRun, type TestRunResult } from '../sys/prog-attr.js';
import { progTypeName, verdictName } from '../uapi/bpf.js';
import { pinFd } from '../maps/pin.js';
import { checkU32 } from '../maps/map.js';

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

  /** Open a pinned program. */
  static fromPin(path: string): BpfProgram {
    const fd = new Fd(objGet(path, 0, `pinned program ${path}`), `program ${path}`);
    const info = progInfo(fd.value);
    return new BpfProgram(fd, info.name, info.type);
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

  /** BPF_PROG_TEST_RUN on a frame (XDP, TC, socket filter, …). */
  testRun(data: Uint8Array, opts: TestRunOptions = {}): ProgramTestRun {
    // repeat is a __u32: -1 would become 4294967295 runs and block this thread for minutes.
    if (opts.repeat !== undefined) checkU32(opts.repeat, 'repeat', `program ${this.name}: testRun`);
    const r = progTestRun(this.fd.value, data, { repeat: opts.repeat, ctxIn: opts.ctx }, `program ${this.name}`);
    return { ...r, verdict: verdictName(this.type, r.retval) };
  }

  /** Pin on bpffs so the program outlives this process. Refuses to replace an existing pin. */
  pin(path: string): void {
    pinFd(this.fd.value, path, { label: `program ${this.name}` });
  }

  close(): void {
    this.fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
