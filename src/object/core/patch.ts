// Writing a resolved CO-RE value into its instruction (libbpf's
// bpf_core_patch_insn): ALU/ALU64 immediates, LDX/ST/STX offsets (and their
// load width when the field changed size), ld_imm64's 64-bit immediate. An
// instruction that cannot be relocated is "poisoned": replaced by a call to
// helper 0xbad2310, which no kernel has, so the verifier rejects the program
// at that instruction, unless it is dead code and gets removed first.

import { CoreRelocationError } from '../../errors.js';
import { BPF_CALL, BPF_JMP, INSN_SIZE, Insns, LD_IMM64 } from '../instruction.js';
import type { CoreReloValues } from './calc.js';

/** 0xbad2310, "bad relo": the verifier reports "invalid func unknown#195896080". */
export const BPF_CORE_POISON_HELPER = 0xbad2310;

const BPF_CLASS_MASK = 0x07;
const BPF_LD = 0x00;
const BPF_LDX = 0x01;
const BPF_ST = 0x02;
const BPF_STX = 0x03;
const BPF_ALU = 0x04;
const BPF_ALU64 = 0x07;
const BPF_X = 0x08;
const BPF_SIZE_MASK = 0x18;
/** BPF_W, BPF_H, BPF_B, BPF_DW by width in bytes. */
const SIZE_CODES: Record<number, number> = { 4: 0x00, 2: 0x08, 1: 0x10, 8: 0x18 };
const SIZE_BYTES: Record<number, number> = { 0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8 };
const SHRT_MAX = 0x7fff;

/** What happened to the instruction. */
export type CorePatchOutcome = 'patched' | 'poisoned';

function setInsn(insns: Insns, i: number, code: number, imm: number): void {
  const at = i * INSN_SIZE;
  insns.bytes[at] = code;
  insns.bytes[at + 1] = 0; // dst_reg = src_reg = 0
  insns.setOff(i, 0);
  insns.setImm(i, imm);
}

/** Replace instruction `i` (both halves of an ld_imm64) with the invalid helper call. */
export function poisonInsn(insns: Insns, i: number): void {
  // Poison ld_imm64's second half too, or the verifier complains about opcode 0 instead.
  if (insns.isLdImm64(i) && i + 1 < insns.count) setInsn(insns, i + 1, BPF_JMP | BPF_CALL, BPF_CORE_POISON_HELPER);
  setInsn(insns, i, BPF_JMP | BPF_CALL, BPF_CORE_POISON_HELPER);
}

const asU64 = (v: number): bigint => BigInt.asUintN(64, BigInt(v));

/**
 * Patch instruction `i` with a resolved relocation. Throws
 * BpfError('CORE_RELOCATION') when the instruction does not hold the value
 * the compiler should have put there, or cannot take the new one; `where`
 * labels those messages.
 */
export function patchCoreInsn(insns: Insns, i: number, res: CoreReloValues, where: string): CorePatchOutcome {
  const fail = (msg: string): never => {
    throw new CoreRelocationError(`${where}: ${msg}`);
  };
  if (i < 0 || i >= insns.count) fail(`instruction ${i} is outside the program (${insns.count} instructions)`);
  if (res.poison) {
    poisonInsn(insns, i);
    return 'poisoned';
  }
  const code = insns.code(i);
  const { localValue, targetValue } = res;
  switch (code & BPF_CLASS_MASK) {
    case BPF_ALU:
    case BPF_ALU64: {
      if (code & BPF_X) fail(`instruction ${i} (ALU) uses a register operand, not an immediate`);
      const imm = insns.imm(i);
      if (res.validate && asU64(imm) !== localValue) fail(`instruction ${i} (ALU) holds ${imm}, expected ${localValue}`);
      insns.setImm(i, Number(BigInt.asIntN(32, targetValue)));
      return 'patched';
    }
    case BPF_LDX:
    case BPF_ST:
    case BPF_STX: {
      const off = insns.off(i);
      if (res.validate && asU64(off) !== localValue) fail(`instruction ${i} (LDX/ST/STX) has offset ${off}, expected ${localValue}`);
      if (targetValue > BigInt(SHRT_MAX)) fail(`instruction ${i} (LDX/ST/STX): offset ${targetValue} does not fit 16 bits`);
      if (res.failMemszAdjust) {
        // Reading a changed-size signed field at another width would give wrong values.
        poisonInsn(insns, i);
        return 'poisoned';
      }
      let newCode = code;
      if (res.targetSize !== res.localSize) {
        const have = SIZE_BYTES[code & BPF_SIZE_MASK]!;
        if (have !== res.localSize) fail(`instruction ${i} (LDX/ST/STX) accesses ${have} bytes, expected ${res.localSize}`);
        const sz = SIZE_CODES[res.targetSize];
        if (sz === undefined) fail(`instruction ${i} (LDX/ST/STX): no load or store is ${res.targetSize} bytes wide`);
        newCode = (code & ~BPF_SIZE_MASK) | sz!;
      }
      insns.setOff(i, Number(targetValue));
      insns.bytes[i * INSN_SIZE] = newCode;
      return 'patched';
    }
    case BPF_LD: {
      const next = i + 1;
      if (code !== LD_IMM64 || next >= insns.count || insns.src(i) !== 0 || insns.off(i) !== 0 || insns.code(next) !== 0 || insns.bytes[next * INSN_SIZE + 1] !== 0 || insns.off(next) !== 0) {
        fail(`instruction ${i} (LD) is not a plain ld_imm64`);
      }
      const imm = (BigInt(insns.imm(next) >>> 0) << 32n) | BigInt(insns.imm(i) >>> 0);
      if (res.validate && imm !== localValue) fail(`instruction ${i} (ld_imm64) holds ${imm}, expected ${localValue}`);
      const v = BigInt.asUintN(64, targetValue);
      insns.setImm(i, Number(BigInt.asIntN(32, v & 0xffffffffn)));
      insns.setImm(next, Number(BigInt.asIntN(32, v >> 32n)));
      return 'patched';
    }
    default:
      return fail(`instruction ${i} (opcode 0x${code.toString(16)}) cannot carry a CO-RE relocation`);
  }
}
