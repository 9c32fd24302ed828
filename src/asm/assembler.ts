// Text to instructions. Two syntaxes, chosen per line:
//  - the conformance suite's (uBPF's) assembler: `mov %r0, 1`, `ldxw %r1, [%r2+4]`,
//    `jne %r0, 15, label`, `lock fetch add [%r1+0], %r2`, `call local f`, `be16 %r0`;
//  - the kernel verifier's notation that disasm.ts prints: `r0 = *(u32 *)(r1 + 4)`,
//    `if r1 > 0x5 goto +3`, `call bpf_map_lookup_elem#1`, `r1 = 0x1 ll`.
// Labels (`name:`) and comments (`#`, `//`, `;`) work in both. Every error is
// a BpfError ASM_SYNTAX naming the line.

import { BpfError } from '../errors.js';
import { ALU_SYM, ATOMIC_NAME, JMP_SYM } from './disasm.js';
import { helperId } from './helpers.js';
import { type Insn, encode, slots } from './insn.js';
import * as op from './opcode.js';

export interface AssembleResult {
  insns: Insn[];
  bytes: Uint8Array;
  /** Label name -> slot index. */
  labels: Map<string, number>;
}

class AsmError extends Error {}
const fail = (msg: string): never => {
  throw new AsmError(msg);
};

/** A match and its groups; a group that took no part in the match is '' (no group here matches an empty string). */
type Groups = [string, string, string, string, string, string, string, string, string];
function exec(re: RegExp, s: string): Groups | null {
  const m = re.exec(s);
  return m && (Array.from({ length: 9 }, (_, i) => m[i] ?? '') as Groups);
}

// ------------------------------------------------------------------ numbers

const NUM = /^([+-]?)(0x[0-9a-f]+|\d+)$/i;

function parseBig(s: string): { v: bigint; hex: boolean } | null {
  const m = exec(NUM, s.trim());
  if (!m) return null;
  const mag = BigInt(m[2]);
  return { v: m[1] === '-' ? -mag : mag, hex: /^0x/i.test(m[2]) };
}

/** A 32-bit immediate: signed decimal, or hex up to 0xffffffff (bit pattern). */
function imm32(s: string, what = 'immediate'): number {
  const n = parseBig(s) ?? fail(`${what} "${s}" is not a number`);
  const max = n.hex ? 0xffffffffn : 0x7fffffffn;
  if (n.v < -0x80000000n || n.v > max) fail(`${what} ${s} is out of 32-bit range (${n.hex ? '-0x80000000..0xffffffff' : '-2147483648..2147483647'})`);
  return Number(BigInt.asIntN(32, n.v));
}

function imm64v(s: string): bigint {
  const n = parseBig(s) ?? fail(`immediate "${s}" is not a number`);
  if (n.v < -(1n << 63n) || n.v > (1n << 64n) - 1n) fail(`immediate ${s} is out of 64-bit range`);
  return BigInt.asUintN(64, n.v);
}

function off16(s: string, what = 'offset'): number {
  const n = parseBig(s) ?? fail(`${what} "${s}" is not a number`);
  if (n.v < -0x8000n || n.v > 0x7fffn) fail(`${what} ${s} is out of 16-bit range (-32768..32767)`);
  return Number(n.v);
}

function reg(s: string): number {
  const m = exec(/^%?[rw](\d+)$/, s.trim());
  if (!m) return fail(`invalid register "${s.trim()}"`);
  const r = Number(m[1]);
  if (r > 10) fail(`invalid register "${s.trim()}" (r0..r10)`);
  return r;
}

/** A register number the kernel-notation regexes captured as digits. */
function rn(digits: string): number {
  const r = Number(digits);
  if (r > 10) fail(`invalid register "r${digits}" (r0..r10)`);
  return r;
}

// ------------------------------------------------------------------ pieces

type Target = { label: string } | { rel: number };
interface Pending {
  insn: Insn;
  line: number;
  /** A label or relative offset still to resolve into off (jumps) or imm (gotol, calls, func addresses). */
  target?: Target;
  into?: 'off' | 'imm';
}

const mk = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ code, dst, src, off, imm });

function target(s: string): Target {
  const t = s.trim();
  if (/^[+-]?\d+$/.test(t) || /^[+-]0x[0-9a-f]+$/i.test(t)) return { rel: off16(t, 'jump offset') };
  if (/^[A-Za-z_.][\w.]*$/.test(t)) return { label: t };
  return fail(`invalid jump target "${t}"`);
}

/** `[%r1+4]`, `[%r10-8]`, `[%r0]` */
function memOperand(s: string): { reg: number; off: number } {
  const m = exec(/^\[\s*(%?r\d+)\s*(?:([+-])\s*(0x[0-9a-f]+|\d+)\s*)?\]$/i, s.trim());
  if (!m) return fail(`"${s.trim()}" is not a memory operand like [%r1+4]`);
  const off = m[2] ? off16(`${m[2]}${m[3]}`) : 0;
  return { reg: reg(m[1]), off };
}

const CONF_ALU: Record<string, number> = {
  add: op.BPF_ADD,
  sub: op.BPF_SUB,
  mul: op.BPF_MUL,
  div: op.BPF_DIV,
  or: op.BPF_OR,
  and: op.BPF_AND,
  lsh: op.BPF_LSH,
  rsh: op.BPF_RSH,
  mod: op.BPF_MOD,
  xor: op.BPF_XOR,
  mov: op.BPF_MOV,
  arsh: op.BPF_ARSH,
  sdiv: op.BPF_DIV,
  smod: op.BPF_MOD,
};
const CONF_JMP: Record<string, number> = {
  jeq: op.BPF_JEQ,
  jgt: op.BPF_JGT,
  jge: op.BPF_JGE,
  jset: op.BPF_JSET,
  jne: op.BPF_JNE,
  jsgt: op.BPF_JSGT,
  jsge: op.BPF_JSGE,
  jlt: op.BPF_JLT,
  jle: op.BPF_JLE,
  jslt: op.BPF_JSLT,
  jsle: op.BPF_JSLE,
};
const SIZES: Record<string, number> = { b: op.BPF_B, h: op.BPF_H, w: op.BPF_W, dw: op.BPF_DW };
const WIDTH_SIZE: Record<string, number> = { '8': op.BPF_B, '16': op.BPF_H, '32': op.BPF_W, '64': op.BPF_DW };

type Operands<N extends number, T extends string[] = []> = T['length'] extends N ? T : Operands<N, [...T, string]>;

function operands<N extends 0 | 1 | 2 | 3>(rest: string, n: N, mnemonic: string): Operands<N> {
  const parts = rest.trim() === '' ? [] : rest.split(',').map((p) => p.trim());
  if (parts.length !== n) fail(`invalid number of operands for ${mnemonic}: ${parts.length}, expected ${n}`);
  return parts as Operands<N>; // exactly n, checked above
}

/** A size table's entry for `k` (the regexes admit only its keys). */
const sizeOf = (table: Record<string, number>, k: string): number => table[k] ?? fail(`invalid size "${k}"`);

/** One line of the conformance syntax. */
function conformanceLine(text: string): Pending | Omit<Pending, 'line'> {
  const m = exec(/^([a-z][a-z0-9]*)\b\s*(.*)$/i, text);
  if (!m) return fail(`cannot parse "${text}"`);
  const mn = m[1].toLowerCase();
  const rest = m[2];
  if (mn === 'exit') {
    operands(rest, 0, mn);
    return { insn: mk(op.EXIT) };
  }
  if (mn === 'call') {
    const t = rest.trim();
    const local = exec(/^local\s+(.+)$/, t);
    if (local) return { insn: mk(op.CALL, 0, op.BPF_PSEUDO_CALL), target: target(local[1]), into: 'imm' };
    if (/^%?r\d+$/.test(t)) return { insn: mk(op.CALLX, reg(t)) };
    if (NUM.test(t)) return { insn: mk(op.CALL, 0, 0, 0, imm32(t, 'helper id')) };
    const id = helperId(t);
    if (id !== undefined) return { insn: mk(op.CALL, 0, 0, 0, id) };
    return fail(`call needs a helper id or name, "local LABEL" or a register, got "${t}"`);
  }
  if (mn === 'lock') return lockLine(rest);
  if (mn === 'lddw') {
    const [d, v] = operands(rest, 2, mn);
    const x = imm64v(v);
    return { insn: { ...mk(op.LD_IMM64, reg(d), 0, 0, Number(BigInt.asIntN(32, x))), imm2: Number(BigInt.asIntN(32, x >> 32n)) } };
  }
  if (mn === 'ja' || mn === 'ja32') {
    const [t] = operands(rest, 1, mn);
    return mn === 'ja' ? { insn: mk(op.BPF_JMP | op.BPF_JA), target: target(t), into: 'off' } : { insn: mk(op.BPF_JMP32 | op.BPF_JA), target: target(t), into: 'imm' };
  }
  let mm: Groups | null;
  let jop: number | undefined;
  if ((mm = exec(/^(j[a-z]+?)(32)?$/, mn)) && (jop = CONF_JMP[mm[1]]) !== undefined) {
    const [d, s, t] = operands(rest, 3, mn);
    const cl = mm[2] ? op.BPF_JMP32 : op.BPF_JMP;
    const isReg = /^%?r\d+$/.test(s);
    const insn = isReg ? mk(cl | jop | op.BPF_X, reg(d), reg(s)) : mk(cl | jop, reg(d), 0, 0, imm32(s));
    return { insn, target: target(t), into: 'off' };
  }
  if ((mm = exec(/^(neg)(32|64)?$/, mn))) {
    const [d] = operands(rest, 1, mn);
    return { insn: mk((mm[2] === '32' ? op.BPF_ALU : op.BPF_ALU64) | op.BPF_NEG, reg(d)) };
  }
  if ((mm = exec(/^(le|be|bswap|swap)(16|32|64)$/, mn))) {
    const [d] = operands(rest, 1, mn);
    const code = mm[1] === 'bswap' || mm[1] === 'swap' ? op.BPF_ALU64 | op.BPF_END : op.BPF_ALU | op.BPF_END | (mm[1] === 'be' ? op.BPF_TO_BE : op.BPF_TO_LE);
    return { insn: mk(code, reg(d), 0, 0, Number(mm[2])) };
  }
  if ((mm = exec(/^movsx(8|16|32)(32|64)$/, mn))) {
    const [d, s] = operands(rest, 2, mn);
    if (mm[2] === '32' && mm[1] === '32') fail('movsx3232 does not exist');
    return { insn: mk((mm[2] === '32' ? op.BPF_ALU : op.BPF_ALU64) | op.BPF_MOV | op.BPF_X, reg(d), reg(s), Number(mm[1])) };
  }
  let aop: number | undefined;
  if ((mm = exec(/^([a-z]+?)(32|64)?$/, mn)) && (aop = CONF_ALU[mm[1]]) !== undefined) {
    const [d, s] = operands(rest, 2, mn);
    const cl = mm[2] === '32' ? op.BPF_ALU : op.BPF_ALU64;
    const sign = mm[1] === 'sdiv' || mm[1] === 'smod' ? 1 : 0;
    const code = cl | aop;
    if (/^%?r\d+$/.test(s)) return { insn: mk(code | op.BPF_X, reg(d), reg(s), sign) };
    return { insn: mk(code, reg(d), 0, sign, imm32(s)) };
  }
  if ((mm = exec(/^ldx(s?)(b|h|w|dw)$/, mn))) {
    const [d, a] = operands(rest, 2, mn);
    if (mm[1] && mm[2] === 'dw') fail('ldxsdw does not exist');
    const { reg: s, off } = memOperand(a);
    return { insn: mk(op.BPF_LDX | (mm[1] ? op.BPF_MEMSX : op.BPF_MEM) | sizeOf(SIZES, mm[2]), reg(d), s, off) };
  }
  if ((mm = exec(/^st(x?)(b|h|w|dw)$/, mn))) {
    const [a, v] = operands(rest, 2, mn);
    const { reg: d, off } = memOperand(a);
    if (mm[1]) return { insn: mk(op.BPF_STX | op.BPF_MEM | sizeOf(SIZES, mm[2]), d, reg(v), off) };
    return { insn: mk(op.BPF_ST | op.BPF_MEM | sizeOf(SIZES, mm[2]), d, 0, off, imm32(v)) };
  }
  if ((mm = exec(/^ld(abs|ind)(b|h|w)$/, mn))) {
    if (mm[1] === 'abs') {
      const [v] = operands(rest, 1, mn);
      return { insn: mk(op.BPF_LD | op.BPF_ABS | sizeOf(SIZES, mm[2]), 0, 0, 0, imm32(v)) };
    }
    const [s, v] = operands(rest, 2, mn);
    return { insn: mk(op.BPF_LD | op.BPF_IND | sizeOf(SIZES, mm[2]), 0, reg(s), 0, imm32(v)) };
  }
  return fail(`invalid mnemonic "${mn}"`);
}

function lockLine(rest: string): Omit<Pending, 'line'> {
  const m = exec(/^(fetch\s+)?([a-z]+?)(32)?\s+(\[[^\]]*\])\s*,\s*(\S+)$/i, rest.trim());
  if (!m) return fail(`invalid number of operands for lock: "lock ${rest.trim()}" (lock [fetch] add|or|and|xor|xchg|cmpxchg[32] [%rX+off], %rY)`);
  const { reg: d, off } = memOperand(m[4]);
  const s = reg(m[5]);
  const sz = m[3] ? op.BPF_W : op.BPF_DW;
  const name = m[2].toLowerCase();
  let imm: number;
  if (name === 'xchg') imm = op.BPF_XCHG;
  else if (name === 'cmpxchg') imm = op.BPF_CMPXCHG;
  else {
    const a = Object.entries(ATOMIC_NAME).find(([, n]) => n === name);
    if (!a) return fail(`invalid atomic operation "${name}"`);
    imm = Number(a[0]) | (m[1] ? op.BPF_FETCH : 0);
  }
  return { insn: mk(op.BPF_STX | op.BPF_ATOMIC | sz, d, s, off, imm) };
}

// ------------------------------------------------------------------ kernel notation

const R = '([rw])(\\d+)';
const MEMX = '\\(r(\\d+) ([+-]) (0x[0-9a-f]+|\\d+)\\)';
const NUMX = '([+-]?(?:0x[0-9a-f]+|\\d+))';
const re = (s: string) => new RegExp(`^${s}$`, 'i');
const RX = {
  end: re(`r(\\d+) = (be|le|bswap)(16|32|64) r(\\d+)`),
  neg: re(`${R} = -[rw](\\d+)`),
  cast: re(`r(\\d+) = addr_space_cast\\(r(\\d+), (\\d+), (\\d+)\\)`),
  movsx: re(`${R} = \\(s(8|16|32)\\)[rw](\\d+)`),
  alu: re(`${R} (s/=|s%=|s>>=|\\+=|-=|\\*=|/=|\\|=|&=|<<=|>>=|%=|\\^=|=) (?:[rw](\\d+)|${NUMX})`),
  ld64: re(`r(\\d+) = (.+) ll`),
  ldx: re(`r(\\d+) = \\*\\(([us])(8|16|32|64) \\*\\)${MEMX}`),
  ldabs: re(`r0 = \\*\\(u(8|16|32) \\*\\)skb\\[(?:r(\\d+) ([+-]) )?(0x[0-9a-f]+|-?\\d+)\\]`),
  st: re(`\\*\\(u(8|16|32|64) \\*\\)${MEMX} = (?:r(\\d+)|${NUMX})`),
  lock: re(`lock \\*\\(u(32|64) \\*\\)${MEMX} (\\+=|\\|=|&=|\\^=) [rw](\\d+)`),
  fetch: re(`[rw](\\d+) = atomic(?:64)?_fetch_(add|or|and|xor)\\(\\(u(32|64) \\*\\)${MEMX}, [rw](\\d+)\\)`),
  xchg: re(`[rw](\\d+) = atomic(?:64)?_xchg\\(\\(u(32|64) \\*\\)${MEMX}, [rw](\\d+)\\)`),
  cmpxchg: re(`[rw]0 = atomic(?:64)?_cmpxchg\\(\\(u(32|64) \\*\\)${MEMX}, [rw]0, [rw](\\d+)\\)`),
  ldacq: re(`[rw](\\d+) = load_acquire\\(\\(u(8|16|32|64) \\*\\)${MEMX}\\)`),
  strel: re(`store_release\\(\\(u(8|16|32|64) \\*\\)${MEMX}, [rw](\\d+)\\)`),
  goto: re(`(goto|gotol|may_goto) (\\S+)`),
  jcc: re(`if ${R} (==|!=|>=|<=|>|<|&|s>=|s<=|s>|s<) (?:[rw](\\d+)|${NUMX}) goto (\\S+)`),
  callpc: re(`call pc([+-]\\d+)`),
  kfunc: re(`call kfunc#(\\d+)(?:@(-?\\d+))?`),
  helper: re(`call [A-Za-z_]\\w*#(\\d+)`),
  callx: re(`callx r(\\d+)`),
  raw: re(`\\.insn (0x[0-9a-f]+|\\d+), (\\d+), (\\d+), (-?\\d+), (-?\\d+)(?:, (-?\\d+))?`),
};

const symOp = (table: Record<number, string>, sym: string): number => Number(Object.entries(table).find(([, s]) => s === sym)![0]);
const memOff = (sign: string, n: string) => off16(`${sign}${n}`);
const atomicSize = (w: string) => (w === '64' ? op.BPF_DW : op.BPF_W);

/** One line of kernel notation, or null when the line is not in it. */
function kernelLine(t: string): Omit<Pending, 'line'> | null {
  let m: Groups | null;
  if (t === 'exit') return { insn: mk(op.EXIT) };
  if ((m = exec(RX.end, t))) {
    if (m[1] !== m[4]) fail('a byte swap works on one register: "rN = be16 rN"');
    const code = m[2] === 'bswap' ? op.BPF_ALU64 | op.BPF_END : op.BPF_ALU | op.BPF_END | (m[2] === 'be' ? op.BPF_TO_BE : op.BPF_TO_LE);
    return { insn: mk(code, rn(m[1]), 0, 0, Number(m[3])) };
  }
  if ((m = exec(RX.neg, t))) return { insn: mk((m[1] === 'w' ? op.BPF_ALU : op.BPF_ALU64) | op.BPF_NEG, rn(m[2])) };
  if ((m = exec(RX.cast, t))) return { insn: mk(op.BPF_ALU64 | op.BPF_MOV | op.BPF_X, rn(m[1]), rn(m[2]), 1, (Number(m[3]) << 16) | Number(m[4])) };
  if ((m = exec(RX.movsx, t))) return { insn: mk((m[1] === 'w' ? op.BPF_ALU : op.BPF_ALU64) | op.BPF_MOV | op.BPF_X, rn(m[2]), rn(m[4]), Number(m[3])) };
  if ((m = exec(RX.ld64, t))) return ldImm64(rn(m[1]), m[2].trim());
  if ((m = exec(RX.ldx, t))) {
    if (m[2] === 's' && m[3] === '64') fail('s64 loads do not exist');
    return { insn: mk(op.BPF_LDX | (m[2] === 's' ? op.BPF_MEMSX : op.BPF_MEM) | sizeOf(WIDTH_SIZE, m[3]), rn(m[1]), rn(m[4]), memOff(m[5], m[6])) };
  }
  if ((m = exec(RX.ldabs, t))) {
    if (m[2] !== '') return { insn: mk(op.BPF_LD | op.BPF_IND | sizeOf(WIDTH_SIZE, m[1]), 0, rn(m[2]), 0, imm32(`${m[3]}${m[4]}`)) };
    return { insn: mk(op.BPF_LD | op.BPF_ABS | sizeOf(WIDTH_SIZE, m[1]), 0, 0, 0, imm32(m[4])) };
  }
  if ((m = exec(RX.st, t))) {
    const [sz, d, off] = [sizeOf(WIDTH_SIZE, m[1]), rn(m[2]), memOff(m[3], m[4])];
    if (m[5] !== '') return { insn: mk(op.BPF_STX | op.BPF_MEM | sz, d, rn(m[5]), off) };
    return { insn: mk(op.BPF_ST | op.BPF_MEM | sz, d, 0, off, imm32(m[6])) };
  }
  if ((m = exec(RX.lock, t))) return { insn: mk(op.BPF_STX | op.BPF_ATOMIC | atomicSize(m[1]), rn(m[2]), rn(m[6]), memOff(m[3], m[4]), symOp(ALU_SYM, m[5])) };
  if ((m = exec(RX.fetch, t))) {
    if (m[1] !== m[7]) fail('atomic_fetch_* returns into its source register');
    return { insn: mk(op.BPF_STX | op.BPF_ATOMIC | atomicSize(m[3]), rn(m[4]), rn(m[7]), memOff(m[5], m[6]), symOp(ATOMIC_NAME, m[2]) | op.BPF_FETCH) };
  }
  if ((m = exec(RX.xchg, t))) {
    if (m[1] !== m[6]) fail('xchg returns into its source register');
    return { insn: mk(op.BPF_STX | op.BPF_ATOMIC | atomicSize(m[2]), rn(m[3]), rn(m[6]), memOff(m[4], m[5]), op.BPF_XCHG) };
  }
  if ((m = exec(RX.cmpxchg, t))) return { insn: mk(op.BPF_STX | op.BPF_ATOMIC | atomicSize(m[1]), rn(m[2]), rn(m[5]), memOff(m[3], m[4]), op.BPF_CMPXCHG) };
  if ((m = exec(RX.ldacq, t))) return { insn: mk(op.BPF_STX | op.BPF_ATOMIC | sizeOf(WIDTH_SIZE, m[2]), rn(m[1]), rn(m[3]), memOff(m[4], m[5]), op.BPF_LOAD_ACQ) };
  if ((m = exec(RX.strel, t))) return { insn: mk(op.BPF_STX | op.BPF_ATOMIC | sizeOf(WIDTH_SIZE, m[1]), rn(m[2]), rn(m[5]), memOff(m[3], m[4]), op.BPF_STORE_REL) };
  if ((m = exec(RX.alu, t))) {
    const cl = m[1] === 'w' ? op.BPF_ALU : op.BPF_ALU64;
    const signedOp = m[3] === 's/=' || m[3] === 's%=';
    const o = symOp(ALU_SYM, signedOp ? m[3].slice(1) : m[3]);
    if (m[4] !== '') return { insn: mk(cl | o | op.BPF_X, rn(m[2]), rn(m[4]), signedOp ? 1 : 0) };
    return { insn: mk(cl | o, rn(m[2]), 0, signedOp ? 1 : 0, imm32(m[5])) };
  }
  if ((m = exec(RX.goto, t))) {
    if (m[1] === 'goto') return { insn: mk(op.BPF_JMP | op.BPF_JA), target: target(m[2]), into: 'off' };
    if (m[1] === 'gotol') return { insn: mk(op.BPF_JMP32 | op.BPF_JA), target: target(m[2]), into: 'imm' };
    return { insn: mk(op.BPF_JMP | op.BPF_JCOND, 0, op.BPF_MAY_GOTO), target: target(m[2]), into: 'off' };
  }
  if ((m = exec(RX.jcc, t))) {
    const cl = m[1] === 'w' ? op.BPF_JMP32 : op.BPF_JMP;
    const o = symOp(JMP_SYM, m[3]);
    const insn = m[4] !== '' ? mk(cl | o | op.BPF_X, rn(m[2]), rn(m[4])) : mk(cl | o, rn(m[2]), 0, 0, imm32(m[5]));
    return { insn, target: target(m[6]), into: 'off' };
  }
  if ((m = exec(RX.callpc, t))) return { insn: mk(op.CALL, 0, op.BPF_PSEUDO_CALL), target: { rel: Number(m[1]) }, into: 'imm' };
  if ((m = exec(RX.kfunc, t))) return { insn: mk(op.CALL, 0, op.BPF_PSEUDO_KFUNC_CALL, m[2] ? off16(m[2]) : 0, imm32(m[1])) };
  if ((m = exec(RX.helper, t))) return { insn: mk(op.CALL, 0, 0, 0, imm32(m[1])) };
  if ((m = exec(RX.callx, t))) return { insn: mk(op.CALLX, rn(m[1])) };
  if ((m = exec(RX.raw, t))) {
    const insn = mk(Number(m[1]), Number(m[2]), Number(m[3]), off16(m[4]), imm32(m[5]));
    if (insn.code > 0xff || insn.dst > 15 || insn.src > 15) fail(`.insn field out of range`);
    if (insn.code === op.LD_IMM64) insn.imm2 = imm32(m[6] || '0');
    return { insn };
  }
  return null;
}

function ldImm64(d: number, rhs: string): Omit<Pending, 'line'> {
  const pair = (s: string): [number, number] => {
    const [a = '', b = ''] = s.split(',');
    return [imm32(a.trim()), imm32(b.trim())];
  };
  let m: Groups | null;
  const with2 = (src: number, a: number, b: number) => ({ insn: { ...mk(op.LD_IMM64, d, src, 0, a), imm2: b } });
  if (NUM.test(rhs)) {
    const x = imm64v(rhs);
    return with2(0, Number(BigInt.asIntN(32, x)), Number(BigInt.asIntN(32, x >> 32n)));
  }
  if ((m = exec(/^map_fd\((.+)\)$/, rhs))) return with2(op.BPF_PSEUDO_MAP_FD, imm32(m[1]), 0);
  if ((m = exec(/^map_idx\((.+)\)$/, rhs))) return with2(op.BPF_PSEUDO_MAP_IDX, imm32(m[1]), 0);
  if ((m = exec(/^(map_value|btf_id|map_idx_value)\(([^,]+,[^,]+)\)$/, rhs))) {
    const [a, b] = pair(m[2]);
    const src = m[1] === 'map_value' ? op.BPF_PSEUDO_MAP_VALUE : m[1] === 'btf_id' ? op.BPF_PSEUDO_BTF_ID : op.BPF_PSEUDO_MAP_IDX_VALUE;
    return with2(src, a, b);
  }
  if ((m = exec(/^func\((?:pc([+-]\d+)|([A-Za-z_.][\w.]*))\)$/, rhs))) {
    return { insn: { ...mk(op.LD_IMM64, d, op.BPF_PSEUDO_FUNC), imm2: 0 }, target: m[1] ? { rel: Number(m[1]) } : { label: m[2] }, into: 'imm' };
  }
  return fail(`cannot parse the 64-bit constant "${rhs}"`);
}

// ------------------------------------------------------------------ driver

function stripComment(line: string): string {
  // "call bpf_map_lookup_elem#1" and "call kfunc#7" keep their '#'.
  let s = line.replace(/(\bcall\s+[A-Za-z_]\w*)#(\d+)/, '$1\u0000$2');
  const cut = s.search(/#|\/\/|;/);
  if (cut >= 0) s = s.slice(0, cut);
  return s.replace('\u0000', '#').trim();
}

/**
 * Assemble text into instructions. `label` names the source in errors.
 * Throws BpfError ASM_SYNTAX ("file:line: message") on the first bad line,
 * and for a program with no instructions.
 */
export function assemble(text: string, opts: { label?: string; littleEndian?: boolean } = {}): AssembleResult {
  const label = opts.label ?? 'asm';
  const pending: Pending[] = [];
  const labels = new Map<string, number>();
  let slot = 0;
  let firstExit: number | undefined;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, idx) => {
    const lineNo = idx + 1;
    try {
      let t = stripComment(raw);
      // "  12: r0 = 1" listings: the slot number is not a label.
      t = t.replace(/^\d+:\s*/, '');
      let lm: Groups | null;
      while ((lm = exec(/^([A-Za-z_.][\w.]*):\s*/, t))) {
        if (labels.has(lm[1])) fail(`label "${lm[1]}" is defined twice`);
        labels.set(lm[1], slot);
        t = t.slice(lm[0].length);
      }
      if (t === '') return;
      t = t.replace(/\s+/g, ' ');
      const p = kernelLine(t) ?? conformanceLine(t);
      pending.push({ ...p, line: lineNo });
      if (p.insn.code === op.EXIT && firstExit === undefined) firstExit = slot;
      slot += slots(p.insn);
    } catch (e) {
      if (e instanceof AsmError) throw new BpfError('ASM_SYNTAX', `${label}:${lineNo}: ${e.message}: "${raw.trim()}"`);
      throw e;
    }
  });
  // The conformance suite's assembler: "exit" names the first exit instruction unless defined.
  if (firstExit !== undefined && !labels.has('exit')) labels.set('exit', firstExit);
  if (pending.length === 0) throw new BpfError('ASM_SYNTAX', `${label}: no instructions (an empty program)`);
  let at = 0;
  for (const p of pending) {
    const here = at;
    at += slots(p.insn);
    if (!p.target) continue;
    let rel: number;
    if ('label' in p.target) {
      const dest = labels.get(p.target.label);
      if (dest === undefined) throw new BpfError('ASM_SYNTAX', `${label}:${p.line}: unknown label "${p.target.label}"`);
      rel = dest - (here + 1);
    } else rel = p.target.rel;
    if (p.into === 'off') {
      if (rel < -0x8000 || rel > 0x7fff) throw new BpfError('ASM_SYNTAX', `${label}:${p.line}: jump of ${rel} instructions does not fit 16 bits (use gotol / ja32)`);
      p.insn.off = rel;
    } else p.insn.imm = rel;
  }
  const insns = pending.map((p) => p.insn);
  return { insns, bytes: encode(insns, opts.littleEndian ?? true), labels };
}
