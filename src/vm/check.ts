// The part of the kernel verifier's work an emulator needs before it runs a
// program: registers read before they are written ("R0 !read_ok") and writes
// to the read-only frame pointer r10. A forward data-flow pass over the
// control-flow graph; the state at each instruction is the set of registers
// written on every path that reaches it.

import { BpfError, at } from '../errors.js';
import { type Insn, slotIndex, withSlots } from '../asm/insn.js';
import * as op from '../asm/opcode.js';
import { jumpTarget } from '../asm/validate.js';

const bit = (r: number) => 1 << r;
const ARGS = bit(1) | bit(2) | bit(3) | bit(4) | bit(5);

interface Effect {
  uses: number;
  defs: number;
  kills: number;
}

function effect(i: Insn): Effect {
  const { code, dst, src } = i;
  const c = op.cls(code);
  const o = op.aluOp(code);
  const x = op.srcBit(code) === op.BPF_X;
  switch (c) {
    case op.BPF_ALU:
    case op.BPF_ALU64:
      if (o === op.BPF_MOV) return { uses: x ? bit(src) : 0, defs: bit(dst), kills: 0 };
      return { uses: bit(dst) | (x && o !== op.BPF_END && o !== op.BPF_NEG ? bit(src) : 0), defs: bit(dst), kills: 0 };
    case op.BPF_LD:
      if (code === op.LD_IMM64) return { uses: 0, defs: bit(dst), kills: 0 };
      // LD_ABS/LD_IND read the skb in r6 and clobber the argument registers.
      return { uses: bit(6) | (op.mode(code) === op.BPF_IND ? bit(src) : 0), defs: bit(0), kills: ARGS };
    case op.BPF_LDX:
      return { uses: bit(src), defs: bit(dst), kills: 0 };
    case op.BPF_ST:
      return { uses: bit(dst), defs: 0, kills: 0 };
    case op.BPF_STX:
      if (op.mode(code) === op.BPF_ATOMIC) {
        if (i.imm === op.BPF_LOAD_ACQ) return { uses: bit(src), defs: bit(dst), kills: 0 };
        if (i.imm === op.BPF_CMPXCHG) return { uses: bit(dst) | bit(src) | bit(0), defs: bit(0), kills: 0 };
        return { uses: bit(dst) | bit(src), defs: i.imm & op.BPF_FETCH ? bit(src) : 0, kills: 0 };
      }
      return { uses: bit(dst) | bit(src), defs: 0, kills: 0 };
    case op.BPF_JMP:
    case op.BPF_JMP32:
      if (o === op.BPF_EXIT) return { uses: bit(0), defs: 0, kills: 0 };
      if (o === op.BPF_CALL) return { uses: x ? bit(dst) : 0, defs: bit(0), kills: ARGS };
      if (o === op.BPF_JA || o === op.BPF_JCOND) return { uses: 0, defs: 0, kills: 0 };
      return { uses: bit(dst) | (x ? bit(src) : 0), defs: 0, kills: 0 };
  }
  return { uses: 0, defs: 0, kills: 0 };
}

/** Registers written by an instruction (for the r10 check). */
function writes(i: Insn): number {
  const e = effect(i);
  return e.defs;
}

/**
 * Throw BpfError INSN_INVALID when an instruction writes r10 or may read a
 * register no path has written. `entry` is the set of registers live at the
 * program's start (r1 and r10 in the kernel); subprograms (local call
 * targets) start with r1-r5 and r10.
 */
export function checkRegisters(insns: readonly Insn[], opts: { entry: number[]; label: string; text: (i: Insn) => string }): void {
  const starts = slotIndex(insns);
  // Slot -> instruction index (undefined past the end, -1 on an ld_imm64's second slot).
  const insnAt: number[] = [];
  for (const [s, , n] of withSlots(insns)) {
    insnAt[s] = n;
    insnAt[s + 1] ??= -1;
  }
  const fail = (n: number, msg: string): never => {
    const slot = at(starts, n, 'INSN_INVALID', opts.label);
    throw new BpfError('INSN_INVALID', `${opts.label}: instruction ${slot} (${opts.text(at(insns, n, 'INSN_INVALID', opts.label))}): ${msg}`);
  };
  insns.forEach((i, n) => {
    if (writes(i) & bit(10)) fail(n, 'r10 is the read-only frame pointer');
  });
  // state[n]: registers certainly written on entry to instruction n; -1 = not reached yet.
  const state = new Int32Array(insns.length).fill(-1);
  const work: number[] = [];
  const flow = (n: number | undefined, s: number) => {
    const old = n === undefined ? undefined : state[n];
    if (n === undefined || old === undefined) return;
    const next = old === -1 ? s : old & s;
    if (next !== old) {
      state[n] = next;
      work.push(n);
    }
  };
  flow(
    0,
    opts.entry.reduce((m, r) => m | bit(r), bit(10)),
  );
  // Every local call target is a subprogram entry.
  for (const [slot, i] of withSlots(insns)) {
    if (i.code === op.CALL && i.src === op.BPF_PSEUDO_CALL) flow(insnAt[slot + 1 + i.imm], ARGS | bit(10));
    if (i.code === op.LD_IMM64 && i.src === op.BPF_PSEUDO_FUNC) flow(insnAt[slot + 1 + i.imm], ARGS | bit(10));
  }
  for (let n = work.pop(); n !== undefined; n = work.pop()) {
    const i = at(insns, n, 'INSN_INVALID', opts.label);
    const s = at(state, n, 'INSN_INVALID', opts.label);
    const e = effect(i);
    const missing = e.uses & ~s;
    if (missing) {
      const r = 31 - Math.clz32(missing & -missing);
      fail(n, `reads r${r} before any path writes it (R${r} !read_ok)`);
    }
    const out = (s & ~e.kills) | e.defs;
    const c = op.cls(i.code);
    const o = op.aluOp(i.code);
    if ((c === op.BPF_JMP || c === op.BPF_JMP32) && o === op.BPF_EXIT) continue;
    const t = jumpTarget(i, at(starts, n, 'INSN_INVALID', opts.label));
    const isCall = i.code === op.CALL;
    if (t !== null && !isCall) flow(insnAt[t], out);
    const unconditional = (c === op.BPF_JMP || c === op.BPF_JMP32) && o === op.BPF_JA;
    if (!unconditional) flow(n + 1, out);
  }
}
