// The BTF target of tp_btf, fentry/fexit/fmod_ret, lsm and iter programs:
// the kernel checks such a program at load against one function (or
// tracepoint typedef) of vmlinux, named by attach_btf_id. The section names
// it; the BTF type to look for follows libbpf's conventions.

import { BpfError } from '../errors.js';
import type { ProgramSpec } from '../object/types.js';
import { vmlinuxBtf } from '../sys/kernel-btf.js';
import { BPF_ATTACH_TYPE as A, BPF_PROG_TYPE as P } from '../uapi/bpf.js';

export interface BtfAttachTarget {
  /** BTF type id in vmlinux. */
  attachBtfId: number;
  /** The BTF name looked up ("btf_trace_sys_enter", "bpf_lsm_file_open"). */
  btfName: string;
}

/** The BTF name and kind a section's target maps to, or null when the program needs none. */
export function btfTargetName(spec: Pick<ProgramSpec, 'type' | 'expectedAttachType' | 'attachTarget'>): { name: string; kind: 'typedef' | 'func' } | null {
  if (spec.type !== P.TRACING && spec.type !== P.LSM) return null;
  const t = spec.attachTarget;
  if (!t) return null;
  switch (spec.expectedAttachType) {
    case A.TRACE_RAW_TP:
      return { name: `btf_trace_${t}`, kind: 'typedef' };
    case A.LSM_MAC:
    case A.LSM_CGROUP:
      return { name: `bpf_lsm_${t}`, kind: 'func' };
    case A.TRACE_ITER:
      return { name: `bpf_iter_${t}`, kind: 'func' };
    case A.TRACE_FENTRY:
    case A.TRACE_FEXIT:
    case A.MODIFY_RETURN:
      return { name: t, kind: 'func' };
    default:
      return null;
  }
}

/** Resolve the program's BTF attach target in the running kernel's vmlinux BTF. */
export function resolveBtfAttachTarget(spec: ProgramSpec, source: string): BtfAttachTarget | null {
  const want = btfTargetName(spec);
  if (!want) return null;
  const btf = vmlinuxBtf();
  const found = btf.findByName(want.name, want.kind);
  if (!found) {
    throw new BpfError(
      'NO_SUCH_TARGET',
      `${source}: program ${spec.name} (section ${spec.section}) attaches to ${want.kind === 'typedef' ? 'tracepoint' : 'function'} ${spec.attachTarget}, but the running kernel's BTF has no ${want.kind} ${want.name} (not in this kernel, inlined, or in a module)`,
    );
  }
  return { attachBtfId: found.id, btfName: want.name };
}
