// Is this a well-formed program? Known opcodes only, reserved fields zero,
// registers r0..r10, jumps and calls landing on an instruction (never inside
// an ld_imm64). What the kernel refuses before its verifier even looks at
// register state, and what the conformance suite's negative tests check.

import { BpfError } from '../errors.js';
import { type Insn, slotCount, withSlots } from './insn.js';
import * as op from './opcode.js';

/** Why an instruction is malformed, or null when it is fine. Jump targets are checked by `validate`. */
export function insnProblem(i: Insn): string | null {
  const { code, dst, src, off, imm } = i;
  if (dst > 10) return `dst register r${dst} does not exist`;
  if (src > 10 && !(code === op.LD_IMM64 && src <= op.BPF_PSEUDO_MAP_IDX_VALUE)) return `src register r${src} does not exist`;
  const c = op.cls(code);
  const zero = (what: string, v: number) => (v !== 0 ? `reserved field ${what} is ${v}, must be 0` : null);
  switch (c) {
    case op.BPF_ALU:
    case op.BPF_ALU64: {
      const o = op.aluOp(code);
      const x = op.srcBit(code) === op.BPF_X;
      if (o === op.BPF_END) {
        if (c === op.BPF_ALU64 && x) return 'bswap has no big-endian form (opcode 0xdf)';
        if (imm !== 16 && imm !== 32 && imm !== 64) return `byte swap width ${imm} is not 16, 32 or 64`;
        return zero('src', src) ?? zero('offset', off);
      }
      if (o === op.BPF_NEG) {
        if (x) return 'neg takes no source register (BPF_X set)';
        return zero('src', src) ?? zero('offset', off) ?? zero('imm', imm);
      }
      if (o > op.BPF_END) return `unknown ALU operation 0x${o.toString(16)}`;
      // off selects signed div/mod (1) and movsx widths; else reserved.
      if (o === op.BPF_DIV || o === op.BPF_MOD) {
        if (off !== 0 && off !== 1) return `offset ${off} of div/mod must be 0 (unsigned) or 1 (signed)`;
      } else if (o === op.BPF_MOV && x) {
        const widths = c === op.BPF_ALU64 ? [0, 8, 16, 32] : [0, 8, 16];
        const cast = c === op.BPF_ALU64 && off === 1 && (imm === 1 || imm === 0x10000);
        if (!widths.includes(off) && !cast) return `offset ${off} of mov must be 0 or a sign-extension width (${widths.slice(1).join(', ')})`;
        if (!cast && imm !== 0) return zero('imm', imm);
        return null;
      } else if (off !== 0) return zero('offset', off);
      return x ? zero('imm', imm) : zero('src', src);
    }
    case op.BPF_JMP:
    case op.BPF_JMP32: {
      const o = op.aluOp(code);
      const x = op.srcBit(code) === op.BPF_X;
      if (o === op.BPF_JA) {
        if (x) return 'ja takes no source register (BPF_X set)';
        if (c === op.BPF_JMP) return zero('dst', dst) ?? zero('src', src) ?? zero('imm', imm);
        return zero('dst', dst) ?? zero('src', src) ?? zero('offset', off);
      }
      if (o === op.BPF_CALL) {
        if (c === op.BPF_JMP32) return 'call is not a JMP32 instruction';
        if (x) return zero('src', src) ?? zero('offset', off) ?? zero('imm', imm); // callx: dst holds the target
        if (src > op.BPF_PSEUDO_KFUNC_CALL) return `call src ${src} is not a helper (0), local (1) or kfunc (2) call`;
        return zero('dst', dst) ?? (src === op.BPF_PSEUDO_KFUNC_CALL ? null : zero('offset', off));
      }
      if (o === op.BPF_EXIT) {
        if (c === op.BPF_JMP32 || x) return 'exit is BPF_JMP | BPF_EXIT (0x95) only';
        return zero('dst', dst) ?? zero('src', src) ?? zero('offset', off) ?? zero('imm', imm);
      }
      if (o === op.BPF_JCOND) {
        if (c === op.BPF_JMP32 || x || src !== op.BPF_MAY_GOTO) return 'unknown conditional pseudo jump';
        return zero('dst', dst) ?? zero('imm', imm);
      }
      if (o > op.BPF_JSLE) return `unknown jump operation 0x${o.toString(16)}`;
      return x ? zero('imm', imm) : zero('src', src);
    }
    case op.BPF_LD: {
      if (code === op.LD_IMM64) {
        if (src > op.BPF_PSEUDO_MAP_IDX_VALUE) return `ld_imm64 src ${src} is not a known pseudo source`;
        // Map fd/index and function addresses keep the second imm zero.
        const single = src === op.BPF_PSEUDO_MAP_FD || src === op.BPF_PSEUDO_MAP_IDX || src === op.BPF_PSEUDO_FUNC;
        if (single && (i.imm2 ?? 0) !== 0) return `ld_imm64 with src ${src} has a non-zero second imm`;
        return zero('offset', off);
      }
      const m = op.mode(code);
      if ((m === op.BPF_ABS || m === op.BPF_IND) && op.size(code) !== op.BPF_DW) {
        return zero('dst', dst) ?? zero('offset', off) ?? (m === op.BPF_ABS ? zero('src', src) : null);
      }
      return `unknown load opcode 0x${code.toString(16)}`;
    }
    case op.BPF_LDX: {
      const m = op.mode(code);
      if (m === op.BPF_MEMSX && op.size(code) === op.BPF_DW) return 'sign-extending load of 8 bytes does not exist';
      if (m !== op.BPF_MEM && m !== op.BPF_MEMSX) return `unknown LDX mode 0x${m.toString(16)}`;
      return zero('imm', imm);
    }
    case op.BPF_ST:
      if (op.mode(code) !== op.BPF_MEM) return `unknown ST mode 0x${op.mode(code).toString(16)}`;
      return zero('src', src);
    case op.BPF_STX: {
      const m = op.mode(code);
      if (m === op.BPF_MEM) return zero('imm', imm);
      if (m !== op.BPF_ATOMIC) return `unknown STX mode 0x${m.toString(16)}`;
      const sz = op.size(code);
      if (imm === op.BPF_LOAD_ACQ || imm === op.BPF_STORE_REL) return null;
      if (sz !== op.BPF_W && sz !== op.BPF_DW) return 'atomic read-modify-write operations are 32 or 64 bit';
      const base = imm & ~op.BPF_FETCH;
      if (imm === op.BPF_XCHG || imm === op.BPF_CMPXCHG) return null;
      if (base === op.BPF_ADD || base === op.BPF_OR || base === op.BPF_AND || base === op.BPF_XOR) return null;
      return `unknown atomic operation 0x${imm.toString(16)}`;
    }
  }
  return `unknown opcode 0x${code.toString(16)}`;
}

/** The slot a jump lands on, or null for instructions that do not jump by offset. */
export function jumpTarget(i: Insn, slot: number): number | null {
  const c = op.cls(i.code);
  if (c !== op.BPF_JMP && c !== op.BPF_JMP32) return null;
  const o = op.aluOp(i.code);
  if (o === op.BPF_EXIT) return null;
  if (o === op.BPF_CALL) return i.code === op.CALL && i.src === op.BPF_PSEUDO_CALL ? slot + 1 + i.imm : null;
  if (o === op.BPF_JA && c === op.BPF_JMP32) return slot + 1 + i.imm;
  return slot + 1 + i.off;
}

/**
 * Throw a BpfError (INSN_INVALID) naming the first malformed instruction,
 * or a jump that leaves the program or lands inside an ld_imm64.
 */
export function validate(insns: readonly Insn[], label = 'program', text?: (i: Insn) => string): void {
  if (insns.length === 0) throw new BpfError('INSN_INVALID', `${label}: the program has no instructions`);
  const total = slotCount(insns);
  const isStart = new Uint8Array(total);
  for (const [s] of withSlots(insns)) isStart[s] = 1;
  const show = (i: Insn) => {
    if (!text) return '';
    try {
      return ` (${text(i)})`;
    } catch {
      return '';
    }
  };
  for (const [slot, i] of withSlots(insns)) {
    const p = insnProblem(i);
    if (p) throw new BpfError('INSN_INVALID', `${label}: instruction ${slot}${show(i)}: ${p}`);
    const t = jumpTarget(i, slot);
    if (t !== null && (t < 0 || t >= total)) throw new BpfError('INSN_INVALID', `${label}: instruction ${slot}${show(i)}: jumps to ${t}, outside the program (0..${total - 1})`);
    if (t !== null && !isStart[t]) throw new BpfError('INSN_INVALID', `${label}: instruction ${slot}${show(i)}: jumps into the middle of the ld_imm64 at ${t - 1}`);
    if (i.code === op.LD_IMM64 && i.src === op.BPF_PSEUDO_FUNC) {
      const f = slot + 1 + i.imm;
      if (f < 0 || f >= total || !isStart[f]) throw new BpfError('INSN_INVALID', `${label}: instruction ${slot}${show(i)}: function address ${f} is not an instruction`);
    }
  }
}
