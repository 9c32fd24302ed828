// CO-RE for one program: resolve each of its relocations and patch the
// instruction stream in place. Returns the relocations that poisoned an
// instruction, so a verifier refusal can be explained in terms of the
// relocation rather than "invalid func unknown#195896080".

import type { CoreRelocation } from '../../btf/ext.js';
import { Insns } from '../instruction.js';
import { patchCoreInsn } from './patch.js';
import type { CoreRelocationResult, CoreResolver } from './resolve.js';

export interface CorePoisoned {
  /** Instruction index in the program's (linked) stream. */
  insn: number;
  relocation: CoreRelocation;
  result: CoreRelocationResult;
  /** "struct task_struct___missing: field no_such_field_xyz not found in kernel BTF (insn 1)". */
  message: string;
}

export interface CoreApplied {
  relocation: CoreRelocation;
  result: CoreRelocationResult;
  outcome: 'patched' | 'poisoned';
}

/**
 * Patch `bytes` (a program's instructions, in `littleEndian` order) for every
 * relocation. Resolution errors (ambiguity, malformed records, instructions
 * that do not hold what the compiler should have emitted) throw
 * BpfError('CORE_RELOCATION') naming `label`.
 */
export function applyCoreRelocations(
  bytes: Uint8Array,
  littleEndian: boolean,
  relocations: readonly CoreRelocation[],
  resolver: CoreResolver,
  label: string,
): { applied: CoreApplied[]; poisoned: CorePoisoned[] } {
  const insns = new Insns(bytes, littleEndian);
  const applied: CoreApplied[] = [];
  const poisoned: CorePoisoned[] = [];
  for (const relo of relocations) {
    const where = `${label}: insn ${relo.insnOff}: ${relo.kindName}`;
    let result: CoreRelocationResult;
    try {
      result = resolver.resolve(relo);
    } catch (e) {
      if (e instanceof Error) e.message = `${where}: ${e.message}`;
      throw e;
    }
    const outcome = patchCoreInsn(insns, relo.insnOff, result, `${where} ${result.local}`);
    applied.push({ relocation: relo, result, outcome });
    if (outcome === 'poisoned') {
      const reason = result.reason ?? `${result.local} cannot be relocated`;
      poisoned.push({ insn: relo.insnOff, relocation: relo, result, message: `${result.localType}: ${reason} (insn ${relo.insnOff})` });
    }
  }
  return { applied, poisoned };
}
