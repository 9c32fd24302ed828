// Choosing the TC program of an object for `load --tc`, and its hook: the
// program whose section says sched_cls ("tc", "classifier", iproute2's
// "ingress"/"egress", "tc/ingress", "tcx/egress", …), or a typeless "prog"
// section, which counts as sched_cls here as it does for `tc filter add … bpf
// obj`. The direction defaults from the section name when it ends in
// ingress or egress.

import type { BpfObjectSpec } from '../collection.js';
import { BpfError } from '../errors.js';
import type { ProgramSpec } from '../object/types.js';
import { isTcDirection, type TcDirection } from '../attach/tc.js';
import { BPF_ATTACH_TYPE, BPF_PROG_TYPE } from '../uapi/bpf.js';

const isTcCandidate = (p: ProgramSpec) => p.type === BPF_PROG_TYPE.SCHED_CLS || p.type === null;

/**
 * The TC program to load: --program, the only TC program, or (with several)
 * the one whose section names the --direction given ("ingress",
 * "tc/ingress", "tcx/ingress", "classifier/ingress"…) when exactly one does.
 */
export function selectTcProgram(spec: BpfObjectSpec, name: string | undefined, direction?: unknown): ProgramSpec {
  if (name) {
    const p = spec.program(name);
    if (!isTcCandidate(p)) throw new BpfError('USAGE', `${spec.path}: program ${name} is not a TC (sched_cls) program (section "${p.section}")`);
    return p;
  }
  // SEC("?tc") programs only by name (--program): libbpf loads them only when asked.
  const tc = spec.programs.filter((p) => isTcCandidate(p) && p.autoload !== false);
  if (tc.length === 1) return tc[0]!;
  if (tc.length === 0) throw new BpfError('PROGRAM_NOT_FOUND', `${spec.path} has no TC (sched_cls) program`);
  if (isTcDirection(direction)) {
    const matching = tc.filter((p) => directionFromSection(p) === direction);
    if (matching.length === 1) return matching[0]!;
  }
  throw new BpfError('USAGE', `${spec.path} has ${tc.length} TC programs (${tc.map((p) => `${p.name} in "${p.section}"`).join(', ')}): choose one with --program`);
}

/**
 * What to load with it: the chosen program, and the other programs whose
 * section explicitly says sched_cls (tail-call targets). Typeless sections
 * other than the chosen one are left out: they may be XDP programs.
 */
export function tcProgramNames(spec: BpfObjectSpec, chosen: ProgramSpec): string[] {
  return spec.programs.filter((p) => p === chosen || (p.type === BPF_PROG_TYPE.SCHED_CLS && p.autoload !== false)).map((p) => p.name);
}

/** ingress/egress from the section: tcx attach types, or a name ending in "ingress"/"egress". */
export function directionFromSection(p: ProgramSpec): TcDirection | undefined {
  if (p.expectedAttachType === BPF_ATTACH_TYPE.TCX_INGRESS) return 'ingress';
  if (p.expectedAttachType === BPF_ATTACH_TYPE.TCX_EGRESS) return 'egress';
  const m = /(?:^|\/)(ingress|egress)$/.exec(p.section);
  return m ? (m[1] as TcDirection) : undefined;
}

export function parseDirection(v: unknown, p: ProgramSpec | undefined): TcDirection {
  if (v === undefined) {
    const fromSection = p ? directionFromSection(p) : undefined;
    if (fromSection) return fromSection;
    throw new BpfError('USAGE', `say which hook with --direction ingress|egress${p ? ` (section "${p.section}" does not)` : ''}`);
  }
  if (!isTcDirection(v)) throw new BpfError('USAGE', `--direction must be ingress or egress, got ${String(v)}`);
  return v;
}

/** An optional integer flag in decimal or 0x hex, within [0, max]. */
export function parseUint(v: unknown, flag: string, max: number): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  const n = /^(0x[0-9a-f]+|\d+)$/i.test(s) ? Number(s) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > max) throw new BpfError('USAGE', `${flag} must be an integer 0…${max}, got ${s}`);
  return n;
}
