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
  // SEC("?xdp") programs are picked only by name (--program), as libbpf loads them only when asked.
  const xdp = spec.programs.filter((p) => isInterfaceXdp(p) && p.autoload !== false);
  const [only, ...others] = xdp;
  if (only === undefined) {
    const optional = spec.programs.filter(isInterfaceXdp).map((p) => p.name);
    if (optional.length) throw new BpfError('PROGRAM_NOT_FOUND', `${spec.path} has only SEC("?…") XDP programs (${optional.join(', ')}), loaded only when asked: choose one with --program`);
    throw new BpfError('PROGRAM_NOT_FOUND', `${spec.path} has no XDP program`);
  }
  if (others.length === 0) return only;
  throw new BpfError('USAGE', `${spec.path} has ${xdp.length} XDP programs (${xdp.map((p) => p.name).join(', ')}): choose one with --program`);
}

/**
 * The XDP programs loaded with `chosen`: every one the object loads by default,
 * together so tail calls between them resolve (SEC("?…") ones only when chosen).
 */
export function xdpProgramNames(spec: BpfObjectSpec, chosen?: string): string[] {
  return spec.programs.filter((p) => isXdpCandidate(p) && (p.autoload !== false || p.name === chosen)).map((p) => p.name);
}

export function parseMode(v: unknown, fallback: XdpMode): XdpMode {
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !isXdpMode(v)) throw new BpfError('USAGE', `--mode must be native, skb, hw or auto, got ${String(v)}`);
  return v;
}
