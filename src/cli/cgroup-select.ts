// Choosing programs of an object for `load --cgroup` / `--sk-msg`: the
// cgroup program and its hook (from --attach-type, else from the section:
// "sockops" → sock_ops, "cgroup_skb/ingress" → ingress, …), and the sk_msg
// program for a sockmap.

import { CGROUP_ATTACH_TYPES, cgroupAttachType } from '../attach/cgroup.js';
import type { BpfObjectSpec } from '../collection.js';
import { BpfError } from '../errors.js';
import type { ProgramSpec } from '../object/types.js';
import { BPF_PROG_TYPE as P } from '../uapi/bpf.js';

const CGROUP_PROG_TYPES = new Set<number>([P.CGROUP_SKB, P.CGROUP_SOCK, P.SOCK_OPS, P.CGROUP_DEVICE, P.CGROUP_SOCK_ADDR, P.CGROUP_SYSCTL, P.CGROUP_SOCKOPT]);
const CGROUP_TYPES = new Set<number>(Object.values(CGROUP_ATTACH_TYPES));

const isCgroupProgram = (p: ProgramSpec) => p.type !== null && CGROUP_PROG_TYPES.has(p.type);

function pick(spec: BpfObjectSpec, name: string | undefined, ok: (p: ProgramSpec) => boolean, what: string, flag: string): ProgramSpec {
  if (name) {
    const p = spec.program(name);
    if (!ok(p)) throw new BpfError('USAGE', `${spec.path}: program ${name} is not a ${what} program (section "${p.section}")`);
    return p;
  }
  // SEC("?…") programs only by name: libbpf loads them only when asked.
  const all = spec.programs.filter((p) => ok(p) && p.autoload !== false);
  if (all.length === 1) return all[0]!;
  if (all.length === 0) throw new BpfError('PROGRAM_NOT_FOUND', `${spec.path} has no ${what} program`);
  throw new BpfError('USAGE', `${spec.path} has ${all.length} ${what} programs (${all.map((p) => p.name).join(', ')}): choose one with ${flag}`);
}

export function selectCgroupProgram(spec: BpfObjectSpec, name: string | undefined): ProgramSpec {
  return pick(spec, name, isCgroupProgram, 'cgroup', '--program');
}

export function selectSkMsgProgram(spec: BpfObjectSpec, name: string | undefined): ProgramSpec {
  return pick(spec, name, (p) => p.type === P.SK_MSG, 'sk_msg', '--sk-msg-program');
}

/** The hook: --attach-type (bpftool's names), else what the section implies. */
export function cgroupAttachTypeFor(p: ProgramSpec, flag: unknown): number {
  if (flag !== undefined) return cgroupAttachType(String(flag));
  if (p.expectedAttachType !== null && CGROUP_TYPES.has(p.expectedAttachType)) return p.expectedAttachType;
  throw new BpfError('USAGE', `section "${p.section}" of program ${p.name} does not say which cgroup hook: give --attach-type (${Object.keys(CGROUP_ATTACH_TYPES).join(', ')})`);
}
