// A ProgramSpec written by hand (as parseObject would make one from an ELF
// section): instructions, a name, a type; everything else empty unless given.
// The empty parts are objectFromInstructions's, which makes the same spec for
// BpfObjectSpec.fromInstructions.
import { objectFromInstructions } from '../../src/object/from-instructions.js';
import type { ProgramSpec } from '../../src/object/types.js';
import { BPF_PROG_TYPE } from '../../src/uapi/bpf.js';

export function programSpec(p: Pick<ProgramSpec, 'name' | 'section' | 'type' | 'instructions'> & Partial<ProgramSpec>): ProgramSpec {
  const [base] = objectFromInstructions(p.instructions, { type: BPF_PROG_TYPE.XDP }).programs;
  return { ...base!, ...p };
}
