// Instructions as text in the kernel verifier's notation (kernel/bpf/disasm.c):
// `r0 = *(u32 *)(r1 + 4)`, `if r1 > 0x5 goto +3`, `call bpf_map_lookup_elem#1`.
// Every form parses back to the same bytes with `assemble` (see assembler.ts);
// the names a caller adds through `DisasmNames` are for reading only.

import { helperName } from './helpers.js';
import { type Insn, decode, imm64, withSlots } from './insn.js';
import * as op from './opcode.js';

/** Optional names for what relocations and calls refer to; text for display. */
export interface DisasmNames {
  /** Replacement text for the right-hand side of an ld_imm64 (e.g. "map[counts]"). */
  ldImm64?(insn: Insn, slot: number): string | undefined;
  /** Replacement text for a call's target (e.g. "add_one" for a local call). */
  call?(insn: Insn, slot: number): string | undefined;
}

const ALU_SYM: Record<number, string> = {
  [op.BPF_ADD]: '+=',
  [op.BPF_SUB]: '-=',
  [op.BPF_MUL]: '*=',
  [op.BPF_DIV]: '/=',
  [op.BPF_OR]: '|=',
  [op.BPF_AND]: '&=',
  [op.BPF_LSH]: '<<=',
  [op.BPF_RSH]: '>>=',
  [op.BPF_MOD]: '%=',
  [op.BPF_XOR]: '^=',
  [op.BPF_MOV]: '=',
  [op.BPF_ARSH]: 's>>=',
};
const JMP_SYM: Record<number, string> = {
  [op.BPF_JEQ]: '==',
  [op.BPF_JGT]: '>',
  [op.BPF_JGE]: '>=',
  [op.BPF_JSET]: '&',
  [op.BPF_JNE]: '!=',
  [op.BPF_JSGT]: 's>',
  [op.BPF_JSGE]: 's>=',
  [op.BPF_JLT]: '<',
  [op.BPF_JLE]: '<=',
  [op.BPF_JSLT]: 's<',
  [op.BPF_JSLE]: 's<=',
};
const ATOMIC_NAME: Record<number, string> = { [op.BPF_ADD]: 'add', [op.BPF_OR]: 'or', [op.BPF_AND]: 'and', [op.BPF_XOR]: 'xor' };
const SIZE_NAME: Record<number, string> = { [op.BPF_B]: '8', [op.BPF_H]: '16', [op.BPF_W]: '32', [op.BPF_DW]: '64' };

export { ALU_SYM, JMP_SYM, ATOMIC_NAME };

/** "+3", "-2", "+0" */
export const signed = (n: number): string => (n < 0 ? `-${-n}` : `+${n}`);
/** "0x5", "-0x1" */
export const signedHex = (n: number): string => (n < 0 ? `-0x${(-n).toString(16)}` : `0x${n.toString(16)}`);
const mem = (reg: number, off: number): string => `(r${reg} ${off < 0 ? '-' : '+'} ${Math.abs(off)})`;
const rawBytes = (i: Insn): string => `.insn 0x${i.code.toString(16).padStart(2, '0')}, ${i.dst}, ${i.src}, ${i.off}, ${i.imm}` + (i.code === op.LD_IMM64 ? `, ${i.imm2 ?? 0}` : '');

/** One instruction as text. `slot` only matters to the name callbacks. */
export function insnText(i: Insn, names?: DisasmNames, slot = i.slot ?? 0): string {
  const { code, dst, src, off, imm } = i;
  const c = op.cls(code);
  switch (c) {
    case op.BPF_ALU:
    case op.BPF_ALU64: {
      const r = c === op.BPF_ALU64 ? 'r' : 'w';
      const o = op.aluOp(code);
      const x = op.srcBit(code) === op.BPF_X;
      if (o === op.BPF_END) {
        const kind = c === op.BPF_ALU64 ? 'bswap' : x ? 'be' : 'le';
        return `r${dst} = ${kind}${imm} r${dst}`;
      }
      if (o === op.BPF_NEG) return `${r}${dst} = -${r}${dst}`;
      if (o === op.BPF_MOV && x && off === 1 && c === op.BPF_ALU64) return `r${dst} = addr_space_cast(r${src}, ${imm >>> 16}, ${imm & 0xffff})`;
      // The kernel's own form, only in translated code: a per-CPU address made absolute (inlined per-CPU lookups).
      if (o === op.BPF_MOV && x && off === op.BPF_ADDR_PERCPU && c === op.BPF_ALU64) return `r${dst} = &(void __percpu *)(r${src})`;
      if (o === op.BPF_MOV && x && off !== 0) return `${r}${dst} = (s${off})${r}${src}`;
      let sym = ALU_SYM[o];
      if (sym === undefined) break;
      if ((o === op.BPF_DIV || o === op.BPF_MOD) && off === 1) sym = `s${sym}`;
      return `${r}${dst} ${sym} ${x ? `${r}${src}` : imm}`;
    }
    case op.BPF_JMP:
    case op.BPF_JMP32: {
      const o = op.aluOp(code);
      const x = op.srcBit(code) === op.BPF_X;
      if (o === op.BPF_JA) return c === op.BPF_JMP32 ? `gotol ${signed(imm)}` : `goto ${signed(off)}`;
      if (o === op.BPF_EXIT) return 'exit';
      if (o === op.BPF_JCOND) return `may_goto ${signed(off)}`;
      if (o === op.BPF_CALL) {
        if (x) return `callx r${dst}`;
        const named = names?.call?.(i, slot);
        if (src === op.BPF_PSEUDO_CALL) return named ? `call ${named}` : `call pc${signed(imm)}`;
        if (src === op.BPF_PSEUDO_KFUNC_CALL) return named ? `call ${named}` : `call kfunc#${imm}` + (off ? `@${off}` : '');
        return named ? `call ${named}` : `call ${helperName(imm) ?? 'unknown'}#${imm}`;
      }
      const sym = JMP_SYM[o];
      if (sym === undefined) break;
      const r = c === op.BPF_JMP32 ? 'w' : 'r';
      return `if ${r}${dst} ${sym} ${x ? `${r}${src}` : signedHex(imm)} goto ${signed(off)}`;
    }
    case op.BPF_LD: {
      if (code === op.LD_IMM64) {
        const named = names?.ldImm64?.(i, slot);
        if (named) return `r${dst} = ${named}`;
        const hi = i.imm2 ?? 0;
        switch (src) {
          case 0:
            return `r${dst} = 0x${imm64(i).toString(16)} ll`;
          case op.BPF_PSEUDO_MAP_FD:
            return `r${dst} = map_fd(${imm}) ll`;
          case op.BPF_PSEUDO_MAP_VALUE:
            return `r${dst} = map_value(${imm}, ${hi}) ll`;
          case op.BPF_PSEUDO_BTF_ID:
            return `r${dst} = btf_id(${imm}, ${hi}) ll`;
          case op.BPF_PSEUDO_FUNC:
            return `r${dst} = func(pc${signed(imm)}) ll`;
          case op.BPF_PSEUDO_MAP_IDX:
            return `r${dst} = map_idx(${imm}) ll`;
          case op.BPF_PSEUDO_MAP_IDX_VALUE:
            return `r${dst} = map_idx_value(${imm}, ${hi}) ll`;
        }
        break;
      }
      const m = op.mode(code);
      const sz = `u${SIZE_NAME[op.size(code)]}`;
      if (m === op.BPF_ABS) return `r0 = *(${sz} *)skb[${imm}]`;
      if (m === op.BPF_IND) return `r0 = *(${sz} *)skb[r${src} ${imm < 0 ? '-' : '+'} ${Math.abs(imm)}]`;
      break;
    }
    case op.BPF_LDX: {
      const m = op.mode(code);
      if (m !== op.BPF_MEM && m !== op.BPF_MEMSX) break;
      return `r${dst} = *(${m === op.BPF_MEMSX ? 's' : 'u'}${SIZE_NAME[op.size(code)]} *)${mem(src, off)}`;
    }
    case op.BPF_ST:
      // A speculation barrier the verifier inserts (translated code only).
      if (code === op.NOSPEC) return 'nospec';
      if (op.mode(code) !== op.BPF_MEM) break;
      return `*(u${SIZE_NAME[op.size(code)]} *)${mem(dst, off)} = ${imm}`;
    case op.BPF_STX: {
      const m = op.mode(code);
      const sz = SIZE_NAME[op.size(code)];
      const at = `(u${sz} *)${mem(dst, off)}`;
      if (m === op.BPF_MEM) return `*${at} = r${src}`;
      if (m !== op.BPF_ATOMIC) break;
      const a = sz === '64' ? 'atomic64' : 'atomic';
      // load-acquire reads through src into dst (unlike the other atomics).
      if (imm === op.BPF_LOAD_ACQ) return `${sz === '64' ? 'r' : 'w'}${dst} = load_acquire((u${sz} *)${mem(src, off)})`;
      if (imm === op.BPF_STORE_REL) return `store_release(${at}, ${sz === '64' ? 'r' : 'w'}${src})`;
      if (imm === op.BPF_XCHG) return `r${src} = ${a}_xchg(${at}, r${src})`;
      if (imm === op.BPF_CMPXCHG) return `r0 = ${a}_cmpxchg(${at}, r0, r${src})`;
      const name = ATOMIC_NAME[imm & ~op.BPF_FETCH];
      if (name === undefined) break;
      if (imm & op.BPF_FETCH) return `r${src} = ${a}_fetch_${name}(${at}, r${src})`;
      return `lock *${at} ${ALU_SYM[imm]} r${src}`;
    }
  }
  return rawBytes(i);
}

export interface DisasmLine {
  /** Slot index (what jumps, line info and the verifier count). */
  slot: number;
  insn: Insn;
  text: string;
}

/** A program's instructions as text, one line per instruction. */
export function disassemble(bytes: Uint8Array | readonly Insn[], opts: { littleEndian?: boolean; names?: DisasmNames } = {}): DisasmLine[] {
  const insns = bytes instanceof Uint8Array ? decode(bytes, opts.littleEndian ?? true) : bytes;
  return [...withSlots(insns)].map(([slot, insn]) => ({ slot, insn, text: insnText(insn, opts.names, slot) }));
}

/** "   4: r0 = r1" lines, as `bpftool prog dump xlated` and verifier logs print them. */
export function formatListing(lines: readonly DisasmLine[]): string {
  const w = String(lines.at(-1)?.slot ?? 0).length;
  return lines.map((l) => `${String(l.slot).padStart(w)}: ${l.text}`).join('\n');
}
