// An object of one program made from instructions instead of an ELF file:
// what BpfObjectSpec.fromInstructions wraps, so that a program written with
// the assembler (bpf-ts/asm) or built in code loads, test-runs and emulates
// through the same paths as a program clang built (cilium/ebpf's NewProgram
// with a ProgramSpec of asm.Instructions is the model). Pure: no syscalls.

import { BpfError } from '../errors.js';
import { LITTLE_ENDIAN } from '../host.js';
import { BPF_F_SLEEPABLE, BPF_PROG_TYPE, PROG_TYPE_NAMES } from '../uapi/bpf.js';
import type { BpfObjectFile } from './types.js';

export interface InstructionsProgram {
  /** BPF_PROG_TYPE_* value. */
  type: number;
  /** The kernel's program name (at most 15 characters: BPF_OBJ_NAME_LEN). Default "prog". */
  name?: string;
  /** Default "GPL": most helpers are GPL-only, and a program written here is the caller's own. */
  license?: string;
  /** BPF_* attach type the kernel checks at load (cgroup hooks, sk_lookup, …). */
  expectedAttachType?: number;
  /** BPF_F_* program flags (e.g. BPF_F_XDP_HAS_FRAGS). Default 0; for syscall programs BPF_F_SLEEPABLE, which the kernel requires of them (as libbpf's SEC("syscall") sets). */
  progFlags?: number;
  /** Byte order of `instructions` (default: this host's). */
  littleEndian?: boolean;
  /** Label in error messages (default "<instructions>"). */
  label?: string;
}

const NAME = /^[A-Za-z0-9_.]{1,15}$/;

/**
 * `instructions` (struct bpf_insn, 8 bytes each, ld_imm64 two) as an object
 * holding one program and no maps. Map fds in ld_imm64 (BPF_PSEUDO_MAP_FD)
 * pass to the kernel as they are; there is no BTF, so no func/line info.
 */
export function objectFromInstructions(instructions: Uint8Array, prog: InstructionsProgram): BpfObjectFile {
  const label = prog.label ?? '<instructions>';
  const name = prog.name ?? 'prog';
  if (instructions.byteLength === 0 || instructions.byteLength % 8 !== 0) {
    throw new BpfError('PROGRAM_INVALID', `${label}: instructions are 8 bytes each; got ${instructions.byteLength} bytes`);
  }
  if (!NAME.test(name)) {
    throw new BpfError('USAGE', `${label}: program name ${JSON.stringify(name)}: the kernel takes 1 to 15 characters of letters, digits, "_" and "."`);
  }
  if (!Number.isInteger(prog.type) || prog.type <= 0 || prog.type >= PROG_TYPE_NAMES.length) {
    throw new BpfError('USAGE', `${label}: program type ${prog.type} is not one this library knows (1..${PROG_TYPE_NAMES.length - 1})`);
  }
  const section = PROG_TYPE_NAMES[prog.type]!;
  return {
    path: label,
    littleEndian: prog.littleEndian ?? LITTLE_ENDIAN,
    license: prog.license ?? 'GPL',
    kernelVersion: null,
    programs: [
      {
        name,
        section,
        type: prog.type,
        expectedAttachType: prog.expectedAttachType ?? null,
        progFlags: prog.progFlags ?? (prog.type === BPF_PROG_TYPE.SYSCALL ? BPF_F_SLEEPABLE : 0),
        ownInstructionCount: instructions.byteLength / 8,
        instructions: Uint8Array.from(instructions),
        relocations: [],
        funcInfo: [],
        lineInfo: [],
        coreRelocations: [],
        sectionOffset: 0,
        btfFuncId: 0,
      },
    ],
    maps: [],
    btf: null,
    btfExt: null,
    btfForKernel: null,
    externs: [],
    warnings: [],
  };
}
