// A ProgramSpec written by hand (as parseObject would make one from an ELF
// section): instructions, a name, a type; everything else empty unless given.
import type { ProgramSpec } from '../../src/object/types.js';

export function programSpec(p: Pick<ProgramSpec, 'name' | 'section' | 'type' | 'instructions'> & Partial<ProgramSpec>): ProgramSpec {
  return {
    expectedAttachType: null,
    progFlags: 0,
    ownInstructionCount: p.instructions.length / 8,
    relocations: [],
    funcInfo: [],
    lineInfo: [],
    coreRelocations: [],
    sectionOffset: 0,
    btfFuncId: 0,
    ...p,
  };
}
