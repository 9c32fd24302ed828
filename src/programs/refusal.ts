// What to say when the kernel refuses a program without a verifier verdict:
// an EPERM while running as root (capabilities are not the cause then), or a
// log holding nothing but statistics. Names the likely cause for the program
// type instead of "run as root" or an empty reason.

import { BPF_PROG_TYPE as P, progTypeName } from '../uapi/bpf.js';
import { EPERM } from '../sys/errno.js';
import { vmlinuxBtf } from '../btf/kernel.js';
import { BpfError } from '../errors.js';

export const isRootUser = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/** __MAX_BPF_ATTACH_TYPE of the running kernel from its BTF, or null when unknown. */
function kernelMaxAttachType(): number | null {
  try {
    const e = vmlinuxBtf().findByName('bpf_attach_type', 'enum');
    if (!e || e.kind !== 'enum') return null;
    const max = e.values.find((v) => v.name === '__MAX_BPF_ATTACH_TYPE');
    return max ? max.value : null;
  } catch {
    return null;
  }
}

/** Throws when the kernel's BTF says it predates this expected attach type (its own refusal would name something else). */
export function assertAttachTypeKnown(expectedAttachType: number, what: string): void {
  // Attach types up to TRACE_UPROBE_SESSION (57, Linux 6.13) need no look-up on the kernels this runs on.
  if (expectedAttachType < 57) return;
  const max = kernelMaxAttachType();
  if (max !== null && expectedAttachType >= max) {
    throw new BpfError('PROGRAM_INVALID', `${what}: expected attach type ${expectedAttachType} is newer than this kernel (it knows attach types below ${max}); it needs a newer kernel`);
  }
}

/** A tracing, LSM or EXT program refused with EPERM: the kernel would not make its BPF trampoline. */
export function needsTrampoline(type: number, errno: number): boolean {
  return (type === P.TRACING || type === P.LSM || type === P.EXT) && errno === EPERM;
}

/** A likely cause of a refusal that came without a verifier verdict. */
export function refusalCause(type: number, expectedAttachType: number, attachBtfId: number, errno: number): string {
  const max = kernelMaxAttachType();
  if (max !== null && expectedAttachType >= max) {
    return `expected attach type ${expectedAttachType} is newer than this kernel (it knows attach types below ${max})`;
  }
  if (type === P.STRUCT_OPS && !attachBtfId) {
    return 'struct_ops programs load only together with their .struct_ops map, against the kernel struct it implements (bpf_struct_ops_<name>)';
  }
  if (needsTrampoline(type, errno)) {
    return `the kernel would not attach a BPF trampoline for this ${progTypeName(type)} program: the target may not be traceable (notrace, inlined) or allowed for this attach type, or a security policy (lockdown, an LSM) forbids it`;
  }
  if (errno === EPERM) {
    return `running as root, so capabilities are not the cause: a security policy (lockdown, SELinux/AppArmor, bpf LSM) or a kernel without this program type (${progTypeName(type)}) refused it`;
  }
  return `the kernel gave no reason: likely an invalid combination of program type ${progTypeName(type)} and expected attach type ${expectedAttachType}, or a missing attach target`;
}
