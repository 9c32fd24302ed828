// Choosing the XDP program of an object for load/run: --program, or the only
// one. A section that names no type (iproute2's "prog") counts as XDP here,
// as it does for `ip link set dev X xdp obj`.

import type { BpfObjectSpec } from '../collection.js';
import { BpfError } from '../errors.js';
import type { ProgramSpec } from '../object/types.js';
import { BPF_ATTACH_TYPE, BPF_PROG_TYPE } from '../uapi/bpf.js';
import { isXdpMode, type XdpMode } from '../attach/xdp-flags.js';

const isXdpCandidate = (p: ProgramSpec) => p.type === BPF_PROG_TYPE.XDP || p.type === null;
// devmap/cpumap programs run from a map entry, never on an interface.
const isInterfaceXdp = (p: ProgramSpec) => isXdpCandidate(p) && p.expectedAttachType !== BPF_ATTACH_TYPE.XDP_DEVMAP && p.expectedAttachType !== BPF_ATTACH_TYPE.XDP_CPUMAP;

export function selectXdpProgram(spec: BpfObjectSpec, name: string | undefined): ProgramSpec {
  if (name) {
    const p = spec.program(name);
    if (!isXdpCandidate(p)) throw new BpfError('USAGE', `${spec.path}: program ${name} is not an XDP program (section "${p.section}")`);
    if (!isInterfaceXdp(p)) throw new BpfError('USAGE', `${spec.path}: program ${name} (section "${p.section}") is a devmap/cpumap program: it runs from a map entry, not on an interface`);
    return p;
  }
  const xdp = spec.programs.filter(isInterfaceXdp);
  const [only, ...others] = xdp;
  if (only === undefined) throw new BpfError('PROGRAM_NOT_FOUND', `${spec.path} has no XDP program`);
  if (others.length === 0) return only;
  throw new BpfError('USAGE', `${spec.path} has ${xdp.length} XDP programs (${xdp.map((p) => p.name).join(', ')}): choose one with --program`);
}

/** Every XDP program of the object: loaded together so tail calls between them resolve. */
export function xdpProgramNames(spec: BpfObjectSpec): string[] {
  return spec.programs.filter(isXdpCandidate).map((p) => p.name);
}

export function parseMode(v: unknown, fallback: XdpMode): XdpMode {
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !isXdpMode(v)) throw new BpfError('USAGE', `--mode must be native, skb, hw or auto, got ${String(v)}`);
  return v;
}
