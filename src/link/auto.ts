// Auto-attach: attach a loaded program where its section name says, as
// libbpf's skeleton does (tracepoint/syscalls/sys_enter_openat,
// kprobe/do_unlinkat, uprobe/libc.so.6:malloc, tp_btf/sched_switch, …).
// Programs whose section names no target (xdp, tc, plain "kprobe") are left
// for the caller, with the reason.

import { BpfError } from '../errors.js';
import type { ProgramSpec } from '../object/types.js';
import type { BpfProgram } from '../programs/program.js';
import { BPF_ATTACH_TYPE as A, BPF_PROG_TYPE as P } from '../uapi/bpf.js';
import type { BpfLink, BpfLinkSet } from './link.js';
import { attachIter, attachKprobe, attachKprobeMulti, attachKsyscall, attachPerfEvent, attachRawTracepoint, attachTracepoint, attachTracing, attachUprobe, attachUprobeMulti } from './tracing.js';

export type AutoAttachPlan =
  | { kind: 'tracepoint'; category: string; name: string }
  | { kind: 'raw_tracepoint'; name: string }
  | { kind: 'tracing'; target: string }
  | { kind: 'kprobe'; func: string; offset: number; retprobe: boolean }
  | { kind: 'ksyscall'; syscall: string; retprobe: boolean }
  | { kind: 'uprobe'; binary: string; symbol: string; offset: number; retprobe: boolean }
  | { kind: 'uprobe_multi'; binary: string; pattern: string; retprobe: boolean }
  | { kind: 'kprobe_multi'; func: string; retprobe: boolean }
  | { kind: 'iter'; target: string }
  | { kind: 'perf_event' }
  | { kind: 'none'; reason: string };

function prefixOf(section: string): string {
  const i = section.indexOf('/');
  return i < 0 ? section : section.slice(0, i);
}

/** What auto-attach would do with a program, from its section alone (pure; no kernel). */
export function autoAttachPlan(spec: Pick<ProgramSpec, 'section' | 'type' | 'expectedAttachType' | 'attachTarget'>): AutoAttachPlan {
  const prefix = prefixOf(spec.section);
  const target = spec.attachTarget;
  const retprobe = /^(kretprobe|uretprobe|kretsyscall)/.test(prefix);
  switch (spec.type) {
    case P.TRACEPOINT: {
      const parts = target?.split('/') ?? [];
      if (parts.length !== 2 || !parts[0] || !parts[1]) return { kind: 'none', reason: `section ${spec.section} names no tracepoint (want tracepoint/<category>/<name>)` };
      return { kind: 'tracepoint', category: parts[0], name: parts[1] };
    }
    case P.RAW_TRACEPOINT:
    case P.RAW_TRACEPOINT_WRITABLE:
      if (!target) return { kind: 'none', reason: `section ${spec.section} names no raw tracepoint (want raw_tp/<name>)` };
      return { kind: 'raw_tracepoint', name: target };
    case P.TRACING:
    case P.LSM:
      if (spec.expectedAttachType === A.TRACE_ITER) return target ? { kind: 'iter', target } : { kind: 'none', reason: 'iter section without a target' };
      if (!target) return { kind: 'none', reason: `section ${spec.section} names no BTF target` };
      return { kind: 'tracing', target };
    case P.PERF_EVENT:
      return { kind: 'perf_event' };
    case P.KPROBE: {
      if (!target) return { kind: 'none', reason: `section ${spec.section} names no target (attach it with the library)` };
      if (prefix.includes('.session')) return { kind: 'none', reason: `${prefix} programs are not auto-attached yet` };
      if (spec.expectedAttachType === A.TRACE_UPROBE_MULTI) {
        // uprobe.multi/<binary>:<glob>
        const i = target.lastIndexOf(':');
        if (i <= 0 || i === target.length - 1) return { kind: 'none', reason: `section ${spec.section}: want ${prefix}/<binary>:<function or glob>` };
        return { kind: 'uprobe_multi', binary: target.slice(0, i), pattern: target.slice(i + 1), retprobe };
      }
      if (spec.expectedAttachType === A.TRACE_KPROBE_MULTI) {
        // kprobe.multi/<function>: a glob would need the kernel's function list (tracefs)
        if (!/^[\w.]+$/.test(target)) return { kind: 'none', reason: `section ${spec.section}: globs over kernel functions are not auto-attached; give attachKprobeMulti the list` };
        return { kind: 'kprobe_multi', func: target, retprobe };
      }
      if (prefix.startsWith('uprobe') || prefix.startsWith('uretprobe')) {
        // uprobe/<binary>:<symbol>[+offset]
        const m = /^(.+):([\w.@]+?)(?:\+(0x[\da-f]+|\d+))?$/i.exec(target);
        if (!m) return { kind: 'none', reason: `section ${spec.section}: want uprobe/<binary>:<function>[+offset]` };
        return { kind: 'uprobe', binary: m[1]!, symbol: m[2]!, offset: m[3] ? Number(m[3]) : 0, retprobe };
      }
      if (prefix.startsWith('ksyscall') || prefix.startsWith('kretsyscall')) return { kind: 'ksyscall', syscall: target, retprobe };
      const m = /^([\w.]+)(?:\+(0x[\da-f]+|\d+))?$/i.exec(target);
      if (!m) return { kind: 'none', reason: `section ${spec.section}: want kprobe/<function>[+offset]` };
      return { kind: 'kprobe', func: m[1]!, offset: m[2] ? Number(m[2]) : 0, retprobe };
    }
    default:
      return { kind: 'none', reason: `section ${spec.section} is not a tracing hook; attach it with --xdp, --tc or --cgroup` };
  }
}

/** Attach `program` as its section says. Throws BpfError('USAGE') for a program with no target. */
export function autoAttach(program: BpfProgram, spec: Pick<ProgramSpec, 'section' | 'type' | 'expectedAttachType' | 'attachTarget'>): BpfLink | BpfLinkSet {
  const plan = autoAttachPlan(spec);
  switch (plan.kind) {
    case 'tracepoint':
      return attachTracepoint(program, plan.category, plan.name);
    case 'raw_tracepoint':
      return attachRawTracepoint(program, plan.name);
    case 'tracing':
      return attachTracing(program, `${spec.section} program ${program.name}`);
    case 'kprobe':
      return attachKprobe(program, plan.func, { offset: plan.offset, retprobe: plan.retprobe });
    case 'ksyscall':
      return attachKsyscall(program, plan.syscall, { retprobe: plan.retprobe });
    case 'uprobe':
      return attachUprobe(program, plan.binary, plan.symbol, { offset: plan.offset, retprobe: plan.retprobe });
    case 'uprobe_multi':
      return attachUprobeMulti(program, plan.binary, plan.pattern, { retprobe: plan.retprobe });
    case 'kprobe_multi':
      return attachKprobeMulti(program, [plan.func], { retprobe: plan.retprobe });
    case 'iter':
      return attachIter(program);
    case 'perf_event':
      return attachPerfEvent(program);
    case 'none':
      throw new BpfError('USAGE', `program ${program.name}: ${plan.reason}`);
  }
}
