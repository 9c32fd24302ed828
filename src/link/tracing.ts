// Attach tracing programs. Each function returns a BpfLink (or a set of them):
// close it to detach, pin it to keep the program attached after exit.
//   tracepoint, kprobe, uprobe, perf_event: a perf event (perf_event_open)
//     joined to the program by BPF_LINK_CREATE (attach type BPF_PERF_EVENT);
//   raw_tp, tp_btf, fentry/fexit/fmod_ret, lsm, freplace: BPF_RAW_TRACEPOINT_OPEN
//     (raw_tp by name; the others on the BTF target given at load);
//   iter: BPF_LINK_CREATE (BPF_TRACE_ITER), read through BPF_ITER_CREATE;
//   uprobe.multi, kprobe.multi: BPF_LINK_CREATE with every attach point in one
//     link (BPF_TRACE_UPROBE_MULTI / BPF_TRACE_KPROBE_MULTI).

import { BpfError } from '../errors.js';
import { BPF_ATTACH_TYPE } from '../uapi/bpf.js';
import { EOPNOTSUPP, EINVAL } from '../sys/errno.js';
import { Fd } from '../sys/fd.js';
import { BPF_F_MULTI_RETURN, iterCreate, linkCreate, rawTracepointOpen } from '../sys/link-attr.js';
import { PERF_COUNT_SW_CPU_CLOCK, PERF_EVENT_IOC_ENABLE, PERF_TYPE_SOFTWARE, PERF_TYPE_TRACEPOINT, type PerfEventAttr, perfEventOpen, perfIoctl, probePmu } from '../sys/perf-event.js';
import { BpfSyscallError } from '../sys/syscall-error.js';
import { BpfLink, BpfLinkSet, progFdOf, type ProgramRef } from './link.js';
import { tracepointId } from './tracefs.js';
import { functionsAt, matchFunctions, resolveProbeBinary, symbolFileOffset } from './uprobe-target.js';
const { readFileSync, readSync } = process.getBuiltinModule('node:fs');

/** A link that also owns the perf event it joins the program to. */
export class PerfEventLink extends BpfLink {
  readonly perfFd: Fd;
  /** What the event is ("tracepoint syscalls/sys_enter_getppid"). */
  readonly target: string;
  constructor(fd: Fd, perfFd: Fd, target: string) {
    super(fd);
    this.perfFd = perfFd;
    this.target = target;
  }
  override close(): void {
    super.close();
    this.perfFd.close();
  }
}

function perfLink(program: ProgramRef, attr: PerfEventAttr, pid: number, cpu: number, target: string, cookie?: bigint): PerfEventLink {
  const perf = new Fd(perfEventOpen(attr, pid, cpu, target), `perf event for ${target}`);
  try {
    const raw = linkCreate({ progFd: progFdOf(program), target: perf.value, attachType: BPF_ATTACH_TYPE.PERF_EVENT, ...(cookie !== undefined ? { cookie } : {}) }, `attach to ${target}`);
    const link = new PerfEventLink(new Fd(raw, `link to ${target}`), perf, target);
    try {
      perfIoctl(perf.value, PERF_EVENT_IOC_ENABLE, 0, target);
    } catch (e) {
      link.close();
      throw e;
    }
    return link;
  } catch (e) {
    if (!perf.closed) perf.close();
    throw e;
  }
}

export interface AttachOptions {
  /** The value bpf_get_attach_cookie() returns in the program. */
  cookie?: bigint;
}

/** tracepoint/<category>/<name>: a static kernel tracepoint, system-wide. */
export function attachTracepoint(program: ProgramRef, category: string, name: string, opts: AttachOptions = {}): PerfEventLink {
  const id = tracepointId(category, name);
  return perfLink(program, { type: PERF_TYPE_TRACEPOINT, config: BigInt(id) }, -1, 0, `tracepoint ${category}/${name}`, opts.cookie);
}

export interface KprobeOptions extends AttachOptions {
  /** Attach at function return (kretprobe). */
  retprobe?: boolean;
  /** Byte offset into the function (kprobe only). */
  offset?: number;
}

/** The syscall entry symbol for this architecture ("getppid" → "__x64_sys_getppid"). */
export function syscallSymbol(name: string): string {
  const prefix: Record<string, string> = { x64: '__x64_sys_', arm64: '__arm64_sys_', s390x: '__s390x_sys_', riscv64: '__riscv_sys_', ia32: '__ia32_sys_' };
  return `${prefix[process.arch] ?? '__se_sys_'}${name}`;
}

/** kprobe/kretprobe on a kernel function, through the kprobe PMU. */
export function attachKprobe(program: ProgramRef, func: string, opts: KprobeOptions = {}): PerfEventLink {
  const what = `${opts.retprobe ? 'kretprobe' : 'kprobe'} ${func}`;
  const pmu = probePmu('kprobe');
  if (!pmu) {
    throw new BpfError(
      'KERNEL_UNSUPPORTED',
      `${what}: this kernel has no kprobe PMU (/sys/bus/event_source/devices/kprobe is missing: it was built without CONFIG_KPROBES); use fentry/fexit on ${func} instead where its BTF allows`,
    );
  }
  if (!/^[\w.]+$/.test(func)) throw new BpfError('USAGE', `${what}: not a kernel function name`);
  const attr: PerfEventAttr = {
    type: pmu.type,
    config: opts.retprobe ? 1n << BigInt(pmu.retprobeBit) : 0n,
    config1: func,
    config2: BigInt(opts.offset ?? 0),
  };
  return perfLink(program, attr, -1, 0, what, opts.cookie);
}

/** ksyscall/<name>: a kprobe on the syscall's entry point for this architecture. */
export function attachKsyscall(program: ProgramRef, syscall: string, opts: KprobeOptions = {}): PerfEventLink {
  return attachKprobe(program, syscallSymbol(syscall), opts);
}

export interface UprobeOptions extends AttachOptions {
  /** Attach at function return (uretprobe). */
  retprobe?: boolean;
  /** Only this process (default: every process that maps the file). */
  pid?: number;
  /** Extra bytes past the symbol (or the offset itself when no symbol is given). */
  offset?: number;
}

/**
 * uprobe/uretprobe on `symbol` in `binary` (a path, a library name such as
 * "libc.so.6", or a program in PATH).
 */
export function attachUprobe(program: ProgramRef, binary: string, symbol: string | null, opts: UprobeOptions = {}): PerfEventLink {
  const path = resolveProbeBinary(binary, opts.pid);
  const what = `${opts.retprobe ? 'uretprobe' : 'uprobe'} ${path}:${symbol ?? `+${opts.offset ?? 0}`}${opts.pid !== undefined ? ` (pid ${opts.pid})` : ''}`;
  const pmu = probePmu('uprobe');
  if (!pmu) throw new BpfError('KERNEL_UNSUPPORTED', `${what}: this kernel has no uprobe PMU (built without CONFIG_UPROBE_EVENTS)`);
  let offset = opts.offset ?? 0;
  if (symbol !== null) offset += symbolFileOffset(readFileSync(path), symbol, path);
  const attr: PerfEventAttr = {
    type: pmu.type,
    config: opts.retprobe ? 1n << BigInt(pmu.retprobeBit) : 0n,
    config1: path,
    config2: BigInt(offset),
  };
  const pid = opts.pid ?? -1;
  return perfLink(program, attr, pid, pid === -1 ? 0 : -1, what, opts.cookie);
}

export interface UprobeMultiOptions {
  /** Attach at function return (uretprobe.multi). */
  retprobe?: boolean;
  /** Only this process (default: every process that maps the file). */
  pid?: number;
  /**
   * One bpf_get_attach_cookie() value per attach point, in the order of the
   * points: the functions as listed, or for a glob in name order (see the
   * returned link's `functions`).
   */
  cookies?: readonly bigint[];
}

/** A uprobe_multi or kprobe_multi link, with what it is attached to. */
export class MultiProbeLink extends BpfLink {
  /** "uprobe.multi /usr/lib/…/libc.so.6:abs,getpid" and the like. */
  readonly target: string;
  /** The functions attached, in cookie order. */
  readonly functions: readonly string[];
  constructor(fd: Fd, target: string, functions: readonly string[]) {
    super(fd);
    this.target = target;
    this.functions = functions;
  }
}

/**
 * uprobe.multi/uretprobe.multi: one link on several functions of `binary`
 * (a path, a library name such as "libc.so.6", or a program in PATH):
 * `functions` lists them, or is one glob ("getp*", "*alloc") as libbpf's
 * uprobe.multi sections write it. The program must be loaded for
 * BPF_TRACE_UPROBE_MULTI (section uprobe.multi or uretprobe.multi). Linux 6.6+.
 */
export function attachUprobeMulti(program: ProgramRef, binary: string, functions: string | readonly string[], opts: UprobeMultiOptions = {}): MultiProbeLink {
  const path = resolveProbeBinary(binary, opts.pid);
  const kind = opts.retprobe ? 'uretprobe.multi' : 'uprobe.multi';
  const label = typeof functions === 'string' ? functions : functions.join(',');
  const what = `${kind} ${path}:${label}${opts.pid !== undefined ? ` (pid ${opts.pid})` : ''}`;
  const bytes = readFileSync(path);
  const points = typeof functions === 'string' ? matchFunctions(bytes, functions, path) : functionsAt(bytes, functions, path);
  if (points.length === 0) throw new BpfError('USAGE', `${what}: no function given`);
  if (opts.cookies && opts.cookies.length !== points.length) {
    throw new BpfError('USAGE', `${what}: ${opts.cookies.length} cookies for ${points.length} functions (${points.map((p) => p.name).join(', ')})`);
  }
  const raw = linkCreate(
    {
      progFd: progFdOf(program),
      target: 0,
      attachType: BPF_ATTACH_TYPE.TRACE_UPROBE_MULTI,
      uprobeMulti: { path, offsets: points.map((p) => p.offset), ...(opts.cookies ? { cookies: opts.cookies } : {}), flags: opts.retprobe ? BPF_F_MULTI_RETURN : 0, pid: opts.pid ?? 0 },
    },
    `attach ${what}`,
  );
  return new MultiProbeLink(
    new Fd(raw, `link to ${what}`),
    what,
    points.map((p) => p.name),
  );
}

/**
 * kprobe.multi/kretprobe.multi: one link on several kernel functions, through
 * fprobe (the kernel needs CONFIG_FPROBE; Linux 5.18+). The program must be
 * loaded for BPF_TRACE_KPROBE_MULTI (section kprobe.multi or kretprobe.multi).
 */
export function attachKprobeMulti(program: ProgramRef, functions: readonly string[], opts: { retprobe?: boolean; cookies?: readonly bigint[] } = {}): MultiProbeLink {
  const what = `${opts.retprobe ? 'kretprobe.multi' : 'kprobe.multi'} ${functions.join(',')}`;
  if (functions.length === 0) throw new BpfError('USAGE', `${what}: no function given`);
  for (const f of functions) if (!/^[\w.]+$/.test(f)) throw new BpfError('USAGE', `${what}: ${f} is not a kernel function name`);
  if (opts.cookies && opts.cookies.length !== functions.length) throw new BpfError('USAGE', `${what}: ${opts.cookies.length} cookies for ${functions.length} functions`);
  let raw: number;
  try {
    raw = linkCreate(
      {
        progFd: progFdOf(program),
        target: 0,
        attachType: BPF_ATTACH_TYPE.TRACE_KPROBE_MULTI,
        kprobeMulti: { syms: functions, ...(opts.cookies ? { cookies: opts.cookies } : {}), flags: opts.retprobe ? BPF_F_MULTI_RETURN : 0 },
      },
      `attach ${what}`,
    );
  } catch (e) {
    // Without CONFIG_FPROBE the kernel's stub answers EOPNOTSUPP.
    if (e instanceof BpfSyscallError && e.errno === EOPNOTSUPP) {
      throw new BpfError(
        'KERNEL_UNSUPPORTED',
        `${what}: this kernel cannot attach kprobe.multi links (built without CONFIG_FPROBE); attach one kprobe per function, or fentry/fexit where BTF allows`,
        { cause: e },
      );
    }
    throw e;
  }
  return new MultiProbeLink(new Fd(raw, `link to ${what}`), what, [...functions]);
}

/** raw_tp/<name>: a raw tracepoint, arguments as the kernel passes them. */
export function attachRawTracepoint(program: ProgramRef, name: string): BpfLink {
  if (!/^[\w]+$/.test(name)) throw new BpfError('USAGE', `not a raw tracepoint name: ${name}`);
  const raw = rawTracepointOpen(name, progFdOf(program), `raw tracepoint ${name}`);
  return new BpfLink(new Fd(raw, `raw tracepoint ${name}`));
}

/**
 * tp_btf, fentry, fexit, fmod_ret, lsm and freplace programs: attach to the
 * BTF target the program was loaded for (its attach_btf_id).
 */
export function attachTracing(program: ProgramRef, what = 'tracing program'): BpfLink {
  const raw = rawTracepointOpen(null, progFdOf(program), what);
  return new BpfLink(new Fd(raw, what));
}

/** An iterator link; each read() runs the program over the kernel objects again. */
export class IterLink extends BpfLink {
  /** Run the iterator once and return everything it wrote. */
  read(maxBytes = 64 * 1024 * 1024): Buffer {
    const fd = new Fd(iterCreate(this.fd.value, `iterator link ${this.id}`), `iterator ${this.id}`);
    try {
      const chunks: Buffer[] = [];
      let total = 0;
      for (;;) {
        const buf = Buffer.allocUnsafe(64 * 1024);
        const n = readSync(fd.value, buf, 0, buf.length, null);
        if (n === 0) break;
        chunks.push(buf.subarray(0, n));
        total += n;
        if (total > maxBytes) throw new BpfError('IO', `iterator ${this.id} wrote more than ${maxBytes} bytes; raise maxBytes`);
      }
      return Buffer.concat(chunks, total);
    } finally {
      fd.close();
    }
  }
}

/** iter/<kind> (task, bpf_map, tcp…): link the iterator program. `iterInfo` for parameterised ones (a map fd). */
export function attachIter(program: ProgramRef, opts: { iterInfo?: Uint8Array } = {}): IterLink {
  const raw = linkCreate({ progFd: progFdOf(program), target: 0, attachType: BPF_ATTACH_TYPE.TRACE_ITER, ...(opts.iterInfo ? { iterInfo: opts.iterInfo } : {}) }, 'iterator link');
  return new IterLink(new Fd(raw, 'iterator link'));
}

/** CPUs currently online ("0-1" → [0, 1]): perf sampling runs on these. */
export function onlineCpus(): number[] {
  const text = readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
  const out: number[] = [];
  for (const part of text.split(',')) {
    const [lo, hi] = part.split('-').map((x) => Number.parseInt(x, 10));
    if (lo === undefined || Number.isNaN(lo)) continue;
    for (let c = lo; c <= (hi ?? lo); c++) out.push(c);
  }
  return out;
}

export interface PerfSampleOptions extends AttachOptions {
  /** Samples per second on each CPU (default 99, as perf and bpftrace use to avoid lockstep with timers). */
  frequency?: number;
  /** Sample every N nanoseconds of CPU time instead of a frequency. */
  periodNs?: number;
  cpus?: number[];
}

/** perf_event programs: software cpu-clock sampling on every online CPU. */
export function attachPerfEvent(program: ProgramRef, opts: PerfSampleOptions = {}): BpfLinkSet {
  const freq = opts.periodNs === undefined;
  const value = freq ? (opts.frequency ?? 99) : opts.periodNs!;
  if (!Number.isInteger(value) || value <= 0) throw new BpfError('USAGE', `perf_event: ${freq ? 'frequency' : 'period'} must be a positive integer, got ${value}`);
  const links: BpfLink[] = [];
  try {
    for (const cpu of opts.cpus ?? onlineCpus()) {
      links.push(perfLink(program, { type: PERF_TYPE_SOFTWARE, config: BigInt(PERF_COUNT_SW_CPU_CLOCK), sample: BigInt(value), freq }, -1, cpu, `cpu-clock on cpu ${cpu}`, opts.cookie));
    }
  } catch (e) {
    for (const l of links) l.close();
    throw e;
  }
  return new BpfLinkSet(links);
}

/** True when an error means "this kernel cannot do that attach" rather than a bad argument. */
export function isUnsupported(e: unknown): boolean {
  if (e instanceof BpfError && e.code === 'KERNEL_UNSUPPORTED') return true;
  return e instanceof BpfSyscallError && (e.errno === EOPNOTSUPP || e.errno === EINVAL);
}
