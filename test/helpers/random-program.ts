// Random XDP programs the verifier accepts, for comparing the emulator with
// the kernel instruction by instruction (test/vm/kernel-random.test.ts).
//
// Every program has the same frame: the packet's first 72 bytes are the
// inputs of r0-r8 (unknown scalars to the verifier, so it proves nothing
// away), the stack's 64 bytes start as copies of them, a random body works on
// r0-r8 and the stack, and the epilogue writes r0-r8 to bytes 72-143 and the
// stack to 144-207 of the packet, which BPF_PROG_TEST_RUN hands back: every
// bit of state is compared, not only r0; its last 16 bytes are left for a
// probe. r9 holds the packet pointer and is never a body operand; jumps go
// forward only, so every program ends.
//
// The body draws from every ALU and ALU64 operation (register and immediate
// forms, sdiv/smod, movsx, neg, byte swaps), stores and loads of every size
// (sign-extending ones too), the atomics on the stack, ld_imm64, and the
// conditional jumps of JMP and JMP32. Immediates come from edge values (0, -1,
// INT_MIN, shift widths) as often as from random ones. What the verifier
// refuses is avoided by construction: division by an immediate 0, shifts by
// an immediate out of range, unaligned stack access.

import { type Insn, slotCount, slots } from '../../src/asm/insn.js';
import * as op from '../../src/asm/opcode.js';
import type { Rng } from './fuzz.js';

export const INPUT_OFF = 0;
export const REGS_OUT_OFF = 72;
export const STACK_OUT_OFF = 144;
/** Two u64s the body never touches, for a probe of the registers at one instruction (kernel-random.test.ts). */
export const PROBE_OFF = 208;
export const PACKET_LEN = 224;
/** r0-r8: what the body may read and write. */
export const BODY_REGS = 9;
const STACK = 64;

const I32_EDGES = [0, 1, -1, 2, 7, 31, 32, 63, 64, 0x7fffffff, -0x80000000, 0xffff, 0x8000, -2, 0x7f, 0x80, 0xff];

function imm32(rng: Rng): number {
  if (rng.chance(0.5)) return rng.pick(I32_EDGES);
  return rng.u32() | 0;
}

const BIN_OPS = [op.BPF_ADD, op.BPF_SUB, op.BPF_MUL, op.BPF_DIV, op.BPF_OR, op.BPF_AND, op.BPF_LSH, op.BPF_RSH, op.BPF_MOD, op.BPF_XOR, op.BPF_MOV, op.BPF_ARSH];
const JMP_OPS = [op.BPF_JEQ, op.BPF_JGT, op.BPF_JGE, op.BPF_JSET, op.BPF_JNE, op.BPF_JSGT, op.BPF_JSGE, op.BPF_JLT, op.BPF_JLE, op.BPF_JSLT, op.BPF_JSLE];
const SIZES = [op.BPF_B, op.BPF_H, op.BPF_W, op.BPF_DW] as const;
const SIZE_BYTES: Record<number, number> = { [op.BPF_B]: 1, [op.BPF_H]: 2, [op.BPF_W]: 4, [op.BPF_DW]: 8 };
const ATOMIC_OPS = [op.BPF_ADD, op.BPF_OR, op.BPF_AND, op.BPF_XOR];
const BPF_FETCH = 0x01;
const BPF_XCHG = 0xe0 | BPF_FETCH;
const BPF_CMPXCHG = 0xf0 | BPF_FETCH;

const reg = (rng: Rng) => rng.int(BODY_REGS);
/** An offset below r10, aligned to `bytes`, inside the 64-byte frame. */
const stackOff = (rng: Rng, bytes: number) => -bytes * (1 + rng.int(STACK / bytes));

/** One body instruction (or a ld_imm64), never a jump. */
function straight(rng: Rng): Insn {
  const alu64 = rng.chance(0.6);
  const cls = alu64 ? op.BPF_ALU64 : op.BPF_ALU;
  switch (rng.int(10)) {
    case 0:
    case 1:
    case 2:
    case 3: {
      // Binary operation, register or immediate source; sdiv/smod through off = 1.
      const o = rng.pick(BIN_OPS);
      const signedDiv = (o === op.BPF_DIV || o === op.BPF_MOD) && rng.chance(0.5) ? 1 : 0;
      if (rng.chance(0.5)) {
        // movsx: MOV with off 8/16 (and 32 for ALU64) sign-extends the source.
        const sx = o === op.BPF_MOV && rng.chance(0.4) ? rng.pick(alu64 ? [8, 16, 32] : [8, 16]) : 0;
        return { code: cls | o | op.BPF_X, dst: reg(rng), src: reg(rng), off: sx || signedDiv, imm: 0 };
      }
      let imm = imm32(rng);
      const width = alu64 ? 64 : 32;
      if (o === op.BPF_LSH || o === op.BPF_RSH || o === op.BPF_ARSH) imm = rng.int(width);
      if ((o === op.BPF_DIV || o === op.BPF_MOD) && imm === 0) imm = rng.pick([1, -1, 3, 0x7fffffff, -0x80000000]);
      return { code: cls | o | op.BPF_K, dst: reg(rng), src: 0, off: signedDiv, imm };
    }
    case 4: {
      // neg, or a byte swap: le/be (ALU) or the unconditional bswap (ALU64, RFC 9669).
      if (rng.chance(0.3)) return { code: cls | op.BPF_NEG, dst: reg(rng), src: 0, off: 0, imm: 0 };
      const imm = rng.pick([16, 32, 64]);
      if (alu64) return { code: op.BPF_ALU64 | op.BPF_END | op.BPF_TO_LE, dst: reg(rng), src: 0, off: 0, imm };
      return { code: op.BPF_ALU | op.BPF_END | (rng.chance(0.5) ? op.BPF_TO_BE : op.BPF_TO_LE), dst: reg(rng), src: 0, off: 0, imm };
    }
    case 5: {
      // Store a register or an immediate.
      const size = rng.pick(SIZES);
      const off = stackOff(rng, SIZE_BYTES[size]!);
      if (rng.chance(0.7)) return { code: op.BPF_STX | op.BPF_MEM | size, dst: 10, src: reg(rng), off, imm: 0 };
      return { code: op.BPF_ST | op.BPF_MEM | size, dst: 10, src: 0, off, imm: imm32(rng) };
    }
    case 6: {
      // Load, zero- or sign-extending.
      const sx = rng.chance(0.4);
      const size = sx ? rng.pick([op.BPF_B, op.BPF_H, op.BPF_W]) : rng.pick(SIZES);
      return { code: op.BPF_LDX | (sx ? op.BPF_MEMSX : op.BPF_MEM) | size, dst: reg(rng), src: 10, off: stackOff(rng, SIZE_BYTES[size]!), imm: 0 };
    }
    case 7: {
      // Atomic read-modify-write on the stack: add/or/and/xor with or without fetch, xchg, cmpxchg (r0 implied).
      const size = rng.pick([op.BPF_W, op.BPF_DW]);
      const k = rng.int(10);
      const imm = k < 8 ? ATOMIC_OPS[k >> 1]! | (k & 1 ? BPF_FETCH : 0) : k === 8 ? BPF_XCHG : BPF_CMPXCHG;
      return { code: op.BPF_STX | op.BPF_ATOMIC | size, dst: 10, src: reg(rng), off: stackOff(rng, SIZE_BYTES[size]!), imm };
    }
    case 8: {
      // ld_imm64: a 64-bit constant.
      const hi = rng.chance(0.5) ? rng.pick([0, -1, 0x7fffffff, -0x80000000, 1]) : rng.u32() | 0;
      return { code: op.LD_IMM64, dst: reg(rng), src: 0, off: 0, imm: imm32(rng), imm2: hi };
    }
    default: {
      // mov of an immediate: ALU64 sign-extends it, ALU zero-extends.
      return { code: cls | op.BPF_MOV | op.BPF_K, dst: reg(rng), src: 0, off: 0, imm: imm32(rng) };
    }
  }
}

/** The body: `n` instructions, about one in six a conditional forward jump over the next few. */
function body(rng: Rng, n: number): Insn[] {
  const out: (Insn & { skip?: number })[] = [];
  for (let k = 0; k < n; k++) {
    const left = n - k - 1;
    if (left > 0 && rng.chance(1 / 6)) {
      const skip = 1 + rng.int(Math.min(4, left));
      const jmp32 = rng.chance(0.4);
      const cls = jmp32 ? op.BPF_JMP32 : op.BPF_JMP;
      // No unconditional ja: what it jumps over would be unreachable, which the verifier refuses.
      if (rng.chance(0.5)) out.push({ code: cls | rng.pick(JMP_OPS) | op.BPF_X, dst: reg(rng), src: reg(rng), off: 0, imm: 0, skip });
      else out.push({ code: cls | rng.pick(JMP_OPS) | op.BPF_K, dst: reg(rng), src: 0, off: 0, imm: imm32(rng), skip });
    } else out.push(straight(rng));
  }
  // Jump offsets count slots (a ld_imm64 is two), to the instruction `skip` places on.
  return out.map((insn, k) => {
    if (insn.skip === undefined) return insn;
    let off = 0;
    for (let j = k + 1; j <= k + insn.skip; j++) off += slots(out[j]!);
    const { skip: _skip, ...rest } = insn;
    return { ...rest, off };
  });
}

const ldx = (size: number, dst: number, src: number, off: number): Insn => ({ code: op.BPF_LDX | op.BPF_MEM | size, dst, src, off, imm: 0 });
const stx = (size: number, dst: number, src: number, off: number): Insn => ({ code: op.BPF_STX | op.BPF_MEM | size, dst, src, off, imm: 0 });

/** A whole program: bounds check, inputs, `n` random body instructions, outputs, return XDP_PASS. */
export function randomProgram(rng: Rng, n: number): Insn[] {
  return programAround(body(rng, n));
}

/** Prologue instructions before the body, and epilogue instructions after it. */
export const PROLOGUE = 7 + BODY_REGS + STACK / 8;
export const EPILOGUE = BODY_REGS + 2 * (STACK / 8) + 2;

/** The frame around a body: bounds check, inputs into r0-r8 and the stack, then r0-r8 and the stack out, XDP_PASS. */
export function programAround(bodyInsns: Insn[]): Insn[] {
  const insns: Insn[] = [
    ldx(op.BPF_W, 9, 1, 0), // r9 = xdp_md->data
    ldx(op.BPF_W, 8, 1, 4), // r8 = xdp_md->data_end
    { code: op.BPF_ALU64 | op.BPF_MOV | op.BPF_X, dst: 7, src: 9, off: 0, imm: 0 },
    { code: op.BPF_ALU64 | op.BPF_ADD | op.BPF_K, dst: 7, src: 0, off: 0, imm: PACKET_LEN },
    { code: op.BPF_JMP | op.BPF_JLE | op.BPF_X, dst: 7, src: 8, off: 2, imm: 0 }, // room for every byte used
    { code: op.BPF_ALU64 | op.BPF_MOV | op.BPF_K, dst: 0, src: 0, off: 0, imm: 0 }, // XDP_ABORTED
    { code: op.BPF_JMP | op.BPF_EXIT, dst: 0, src: 0, off: 0, imm: 0 },
  ];
  for (let r = 0; r < BODY_REGS; r++) insns.push(ldx(op.BPF_DW, r, 9, INPUT_OFF + 8 * r));
  for (let s = 0; s < STACK / 8; s++) insns.push(stx(op.BPF_DW, 10, s % BODY_REGS, -8 * (s + 1)));
  insns.push(...bodyInsns);
  for (let r = 0; r < BODY_REGS; r++) insns.push(stx(op.BPF_DW, 9, r, REGS_OUT_OFF + 8 * r));
  for (let s = 0; s < STACK / 8; s++) {
    insns.push(ldx(op.BPF_DW, 1, 10, -8 * (s + 1)));
    insns.push(stx(op.BPF_DW, 9, 1, STACK_OUT_OFF + 8 * s));
  }
  insns.push({ code: op.BPF_ALU64 | op.BPF_MOV | op.BPF_K, dst: 0, src: 0, off: 0, imm: 2 }); // XDP_PASS
  insns.push({ code: op.BPF_JMP | op.BPF_EXIT, dst: 0, src: 0, off: 0, imm: 0 });
  return insns;
}

/**
 * The same program as a syscall program: r9 is the context (r1), which holds
 * the inputs and takes the outputs as the packet did; no bounds check (the
 * kernel checks the context is as large as the largest offset used), so the
 * frame's first seven instructions become r9 = r1 and no-ops (every other
 * instruction keeps its slot).
 */
export function asSyscallProgram(insns: Insn[]): Insn[] {
  const nop: Insn = { code: op.BPF_JMP | op.BPF_JA, dst: 0, src: 0, off: 0, imm: 0 };
  const r9IsCtx: Insn = { code: op.BPF_ALU64 | op.BPF_MOV | op.BPF_X, dst: 9, src: 1, off: 0, imm: 0 };
  return [r9IsCtx, ...Array<Insn>(6).fill(nop), ...insns.slice(7)];
}

const U64_EDGES = [0n, 1n, (1n << 64n) - 1n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 1n << 32n, 1n << 63n, (1n << 63n) - 1n, 0xffffffff80000000n, 63n, 64n, 31n, 32n];

/** A packet of PACKET_LEN bytes: r0-r8's inputs (edge values or random, little-endian), the rest random. */
export function randomInputs(rng: Rng): Buffer {
  const b = Buffer.from(rng.bytes(PACKET_LEN));
  for (let r = 0; r < BODY_REGS; r++) {
    if (rng.chance(0.5)) b.writeBigUInt64LE(rng.pick(U64_EDGES), INPUT_OFF + 8 * r);
    else if (rng.chance(0.3)) b.writeBigUInt64LE(BigInt(rng.u32()), INPUT_OFF + 8 * r);
  }
  return b;
}

// ---------------------------------------------------------------- helper calls

/** The XDP helpers the second kind of random program calls, with the emulator's names. */
export const XDP_HELPERS = ['bpf_xdp_adjust_head', 'bpf_xdp_adjust_tail', 'bpf_xdp_adjust_meta', 'bpf_csum_diff', 'bpf_xdp_load_bytes', 'bpf_xdp_store_bytes', 'bpf_xdp_get_buff_len'] as const;
/** The same for TC (sched_cls) programs: the socket buffer's byte and checksum helpers. */
export const SKB_HELPERS = [
  'bpf_skb_load_bytes',
  'bpf_skb_store_bytes',
  'bpf_l3_csum_replace',
  'bpf_l4_csum_replace',
  'bpf_csum_diff',
  'bpf_skb_pull_data',
  'bpf_skb_change_tail',
  'bpf_skb_change_head',
  'bpf_csum_update',
  'bpf_skb_vlan_push',
  'bpf_skb_vlan_pop',
  'bpf_skb_change_proto',
  'bpf_skb_adjust_room',
  'bpf_csum_level',
  'bpf_skb_load_bytes_relative',
  'bpf_set_hash',
  'bpf_set_hash_invalid',
  'bpf_skb_set_tunnel_key',
  'bpf_skb_get_tunnel_key',
  'bpf_skb_set_tunnel_opt',
  'bpf_skb_get_tunnel_opt',
  'bpf_skb_set_tstamp',
] as const;
type HelperName = (typeof XDP_HELPERS)[number] | (typeof SKB_HELPERS)[number];
/** Where the context keeps the packet pointers: struct xdp_md, struct __sk_buff. */
const CTX_DATA = { xdp: [0, 4], tc: [76, 80] } as const;
/** What a helper program's packet holds first: r7's input, then the stack's 64 bytes, then r8's input. */
export const HELPER_PACKET_MIN = 80;
/** At most this many calls: each one's r0 is kept in its own stack slot below the 64-byte buffer. */
export const MAX_HELPER_CALLS = 8;
/** What the program writes at the packet's start when the packet still has room: r7, each call's r0, the buffer. */
export const HELPER_OUT = { r7: 0, results: 8, buffer: 8 + 8 * MAX_HELPER_CALLS, end: 8 + 8 * MAX_HELPER_CALLS + STACK };
const resultSlot = (c: number) => -STACK - 8 * (c + 1);
/** Below the result slots: where the TC programs' closing probes read header bytes to. */
const PROBE_SLOT = resultSlot(MAX_HELPER_CALLS);

/** The calls of a helper program whose results it keeps (in HELPER_OUT.results, in this order): not the closing probes. */
export function resultCalls(insns: Insn[]): Insn[] {
  return insns.filter((i, at) => i.code === (op.BPF_JMP | op.BPF_CALL) && insns[at + 1]?.code === (op.BPF_STX | op.BPF_MEM | op.BPF_DW) && insns[at + 1]!.dst === 10);
}

const mov64 = (dst: number, imm: number): Insn => ({ code: op.BPF_ALU64 | op.BPF_MOV | op.BPF_K, dst, src: 0, off: 0, imm });
const movReg = (dst: number, src: number): Insn => ({ code: op.BPF_ALU64 | op.BPF_MOV | op.BPF_X, dst, src, off: 0, imm: 0 });
const add64 = (dst: number, imm: number): Insn => ({ code: op.BPF_ALU64 | op.BPF_ADD | op.BPF_K, dst, src: 0, off: 0, imm });
const exit: Insn = { code: op.BPF_JMP | op.BPF_EXIT, dst: 0, src: 0, off: 0, imm: 0 };

// bpf_skb_adjust_room's flags (uapi/linux/bpf.h).
const ADJ_ROOM = { fixedGso: 1, encapV4: 2, encapV6: 4, gre: 8, udp: 16, noCsumReset: 32, l2Eth: 64, decapV4: 128, decapV6: 256 };

/** bpf_skb_adjust_room's flags, the inner L2 length (the top byte) and the sign of len_diff that goes with them. */
function adjustRoomFlags(rng: Rng): [flags: number, inner: number, sign: 1 | -1] {
  const f = ADJ_ROOM;
  const some = (...bits: number[]) => bits.reduce((a, b) => (rng.chance(0.3) ? a | b : a), 0);
  const sign = (): 1 | -1 => (rng.chance(0.5) ? 1 : -1);
  switch (rng.int(6)) {
    case 0:
      return [some(f.noCsumReset, f.fixedGso), 0, sign()];
    case 1:
    case 2: {
      // An encap: one IP version (now and then both), GRE or UDP or neither (or both), an inner Ethernet header.
      const l3 = rng.chance(0.9) ? rng.pick([f.encapV4, f.encapV6]) : f.encapV4 | f.encapV6;
      const l4 = rng.pick([0, f.gre, f.udp, f.gre, f.udp, f.gre | f.udp]);
      const eth = rng.chance(0.3) ? f.l2Eth : 0;
      return [l3 | l4 | eth | some(f.noCsumReset, f.fixedGso), rng.chance(0.7) ? (eth ? 14 : 0) : rng.pick([0, 4, 14, 20, 255]), rng.chance(0.9) ? 1 : -1];
    }
    case 3: {
      const l3 = rng.chance(0.9) ? rng.pick([f.decapV4, f.decapV6]) : f.decapV4 | f.decapV6;
      return [l3 | some(f.noCsumReset, f.fixedGso), 0, rng.chance(0.9) ? -1 : 1];
    }
    case 4:
      return [rng.int(0x200), rng.chance(0.2) ? rng.pick([4, 14, 255]) : 0, sign()];
    default:
      // A bit it refuses (9, 30), or none.
      return [rng.pick([0, 0x200, 0x40000000]) | some(f.noCsumReset), 0, sign()];
  }
}

/** Deltas and offsets near the edges the kernel checks (headroom 256, ETH_HLEN, 0xffff, the 4 KiB frame). */
const DELTAS = [0, 1, -1, 4, -4, 14, -14, -64, 64, -256, -255, -257, -300, 100, -100, 3000, 3520, 3440, 4096, 0x7fffffff, -0x80000000, 0xffff, 0x10000];
const delta = (rng: Rng) => (rng.chance(0.6) ? rng.pick(DELTAS) : rng.int(801) - 400);

/**
 * A program that calls `calls` of XDP_HELPERS with random arguments (edge
 * values, r8's input, sizes the kernel accepts and refuses at run time) and
 * keeps each result in a stack slot of its own and folds it into r7
 * (r7 = r7 * 31 + r0). At the end, when the packet still has room (the
 * helpers move its head and tail), it writes r7, the results and the 64-byte
 * buffer the helpers read and write there (HELPER_OUT) and returns XDP_PASS;
 * otherwise it returns r7's low 32 bits. The whole packet out is compared.
 */
export function randomHelperProgram(rng: Rng, calls: number, helperId: (name: string) => number, kind: 'xdp' | 'tc' = 'xdp'): Insn[] {
  const [dataOff, endOff] = CTX_DATA[kind];
  const helpers: readonly HelperName[] = kind === 'xdp' ? XDP_HELPERS : SKB_HELPERS;
  const insns: Insn[] = [
    movReg(6, 1), // ctx, callee-saved
    ldx(op.BPF_W, 9, 6, dataOff),
    ldx(op.BPF_W, 8, 6, endOff),
    movReg(1, 9),
    add64(1, HELPER_PACKET_MIN),
    { code: op.BPF_JMP | op.BPF_JLE | op.BPF_X, dst: 1, src: 8, off: 2, imm: 0 },
    mov64(0, 0),
    exit,
    ldx(op.BPF_DW, 7, 9, 0),
  ];
  for (let s = 0; s < STACK / 8; s++) insns.push(ldx(op.BPF_DW, 1, 9, 8 + 8 * s), stx(op.BPF_DW, 10, 1, -8 * (s + 1)));
  insns.push(ldx(op.BPF_DW, 8, 9, 72));
  for (let c = 0; c < MAX_HELPER_CALLS; c++) insns.push({ code: op.BPF_ST | op.BPF_MEM | op.BPF_DW, dst: 10, src: 0, off: resultSlot(c), imm: 0 });
  if (calls > MAX_HELPER_CALLS) throw new Error(`at most ${MAX_HELPER_CALLS} calls`);
  // Some TC programs first raise the checksum level (CHECKSUM_UNNECESSARY), which bpf_skb_adjust_room resets.
  if (kind === 'tc' && rng.chance(0.3)) insns.push(movReg(1, 6), mov64(2, 1), { code: op.BPF_JMP | op.BPF_CALL, dst: 0, src: 0, off: 0, imm: helperId('bpf_csum_level') });
  let name: HelperName | undefined;
  let tunnelV6 = 0;
  for (let c = 0; c < calls; c++) {
    // Now and then the same helper again: what one call leaves the next one sees (a level raised then queried, room made then taken).
    // And the tunnel helpers mostly after the one that attaches what they read.
    const after =
      name === 'bpf_skb_set_tunnel_key'
        ? (['bpf_skb_get_tunnel_key', 'bpf_skb_get_tunnel_key', 'bpf_skb_set_tunnel_opt'] as const)
        : name === 'bpf_skb_set_tunnel_opt'
          ? (['bpf_skb_get_tunnel_opt'] as const)
          : undefined;
    name = after && rng.chance(0.8) ? rng.pick(after) : name !== undefined && rng.chance(0.25) ? name : rng.pick(helpers);
    switch (name) {
      case 'bpf_xdp_adjust_head':
      case 'bpf_xdp_adjust_tail':
      case 'bpf_xdp_adjust_meta':
        insns.push(movReg(1, 6), rng.chance(0.8) ? mov64(2, delta(rng)) : movReg(2, 8));
        break;
      case 'bpf_csum_diff': {
        // from/to: stack ranges; a size that is not a multiple of 4 is -EINVAL at run time.
        const arg = (ptr: number, size: number) => {
          const n = rng.chance(0.15) ? 0 : rng.chance(0.8) ? 4 * (1 + rng.int(8)) : 1 + rng.int(31);
          if (n === 0 && rng.chance(0.5)) insns.push(mov64(ptr, 0));
          else insns.push(movReg(ptr, 10), add64(ptr, -STACK + rng.int(STACK - Math.max(n, 1) + 1)));
          insns.push(mov64(size, n));
        };
        arg(1, 2);
        arg(3, 4);
        insns.push(rng.chance(0.5) ? movReg(5, 8) : mov64(5, imm32(rng)));
        break;
      }
      case 'bpf_xdp_load_bytes':
      case 'bpf_xdp_store_bytes':
      case 'bpf_skb_load_bytes':
      case 'bpf_skb_store_bytes': {
        const len = 1 + rng.int(STACK);
        // XDP offsets also near where the linear part (3,520 bytes) and each 4 KiB fragment end.
        const near = kind === 'xdp' && rng.chance(0.3) ? rng.pick([3456, 3520, 3520, 4000, 7616, 7616, 11712]) + rng.int(97) - 48 : undefined;
        insns.push(movReg(1, 6), near !== undefined ? mov64(2, near) : rng.chance(0.7) ? mov64(2, rng.chance(0.5) ? rng.int(200) : delta(rng)) : movReg(2, 8));
        insns.push(movReg(3, 10), add64(3, -STACK + rng.int(STACK - len + 1)), mov64(4, len));
        // skb_store_bytes's flags: BPF_F_RECOMPUTE_CSUM, BPF_F_INVALIDATE_HASH, or one it refuses.
        if (name === 'bpf_skb_store_bytes') insns.push(mov64(5, rng.pick([0, 0, 1, 2, 3, 4])));
        break;
      }
      case 'bpf_l3_csum_replace':
      case 'bpf_l4_csum_replace': {
        // (skb, offset, from, to, size | flags): 2- and 4-byte fields, 0 (to is a csum_diff), and sizes it refuses;
        // l4 flags: BPF_F_PSEUDO_HDR (0x10), BPF_F_MARK_MANGLED_0 (0x20), BPF_F_MARK_ENFORCE (0x40).
        const size = rng.pick([2, 4, 0, 2, 4, 3, 8]);
        const flags = name === 'bpf_l4_csum_replace' ? rng.pick([0, 0, 0x10, 0x20, 0x40, 0x30, 0x80]) : rng.pick([0, 0, 0, 0x10]);
        insns.push(movReg(1, 6), mov64(2, rng.chance(0.8) ? rng.int(160) : delta(rng)));
        insns.push(rng.chance(0.5) ? movReg(3, 8) : mov64(3, imm32(rng)), rng.chance(0.5) ? movReg(4, 7) : mov64(4, imm32(rng)), mov64(5, size | flags));
        break;
      }
      case 'bpf_skb_pull_data':
        insns.push(movReg(1, 6), rng.chance(0.7) ? mov64(2, rng.pick([0, 1, 14, 79, 80, 300, 301, -1])) : rng.chance(0.5) ? mov64(2, rng.int(320)) : movReg(2, 8));
        break;
      case 'bpf_skb_change_tail':
        // New lengths near the network header (14), the packet's, SKB_MAX_ALLOC (16064) and u32 edges; flags other than 0 are -EINVAL.
        insns.push(movReg(1, 6), rng.chance(0.8) ? mov64(2, rng.pick([0, 13, 14, 15, 30, 50, 80, 100, 200, 300, 1000, 16064, 16065, -1]) + (rng.chance(0.3) ? rng.int(9) - 4 : 0)) : movReg(2, 8));
        insns.push(mov64(3, rng.chance(0.85) ? 0 : rng.pick([1, 2, -1])));
        break;
      case 'bpf_skb_change_head':
        insns.push(movReg(1, 6), rng.chance(0.8) ? mov64(2, rng.pick([0, 1, 4, 14, 64, 65, 100, 256, 15800, 16000, -1, -100])) : movReg(2, 8));
        insns.push(mov64(3, rng.chance(0.85) ? 0 : rng.pick([1, -1])));
        break;
      case 'bpf_skb_vlan_push':
        // 802.1Q and 802.1ad as stored (big-endian), and others the kernel takes as 802.1Q; TCIs past 16 bits.
        insns.push(movReg(1, 6), mov64(2, rng.pick([0x0081, 0x0081, 0xa888, 0x0008, rng.int(0x10000)])), mov64(3, rng.chance(0.8) ? rng.int(0x10000) : rng.pick([0x10000, -1, 0x12345])));
        break;
      case 'bpf_skb_vlan_pop':
        insns.push(movReg(1, 6));
        break;
      case 'bpf_skb_change_proto':
        // IPv4 and IPv6 as stored (big-endian), others the kernel does not translate, bits past the u16.
        insns.push(movReg(1, 6), mov64(2, rng.pick([0x0008, 0xdd86, 0x0008, 0xdd86, 0x0081, 0x10008, rng.int(0x10000)])), mov64(3, rng.chance(0.85) ? 0 : rng.pick([1, -1])));
        break;
      case 'bpf_skb_adjust_room': {
        // (skb, len_diff, mode, flags): BPF_ADJ_ROOM_NET (0), _MAC (1) and modes it refuses; flags as
        // programs use them (an encap with its L3/L4/L2 parts growing, a decap shrinking, none) and at random.
        const [flags, inner, sign] = adjustRoomFlags(rng);
        const size = rng.pick([0, 1, 4, 8, 14, 20, 28, 34, 40, 48, 54, 100, 0xfff, 0x1000]);
        insns.push(movReg(1, 6), rng.chance(0.85) ? mov64(2, sign * size || rng.pick([0, -0x80000000])) : movReg(2, 8));
        insns.push(mov64(3, rng.pick([0, 0, 0, 1, 1, 1, 2, -1])));
        insns.push(mov64(4, inner), { code: op.BPF_ALU64 | op.BPF_LSH | op.BPF_K, dst: 4, src: 0, off: 0, imm: 56 });
        insns.push({ code: op.BPF_ALU64 | op.BPF_OR | op.BPF_K, dst: 4, src: 0, off: 0, imm: flags });
        break;
      }
      case 'bpf_csum_level':
        // BPF_CSUM_LEVEL_QUERY, _INC, _DEC, _RESET, and levels it refuses.
        insns.push(movReg(1, 6), mov64(2, rng.pick([0, 0, 1, 1, 1, 2, 2, 3, 4, -1])));
        break;
      case 'bpf_skb_load_bytes_relative': {
        // From the mac (0) or network (1) header, or a start it refuses; offsets near both ends and past 0xffff.
        const len = 1 + rng.int(STACK);
        insns.push(movReg(1, 6), mov64(2, rng.chance(0.85) ? rng.int(120) : rng.pick([0xffff, 0x10000, -1])));
        insns.push(movReg(3, 10), add64(3, -STACK + rng.int(STACK - len + 1)), mov64(4, len), mov64(5, rng.pick([0, 1, 0, 1, 2])));
        break;
      }
      case 'bpf_set_hash':
        insns.push(movReg(1, 6), rng.chance(0.5) ? movReg(2, 8) : mov64(2, imm32(rng)));
        break;
      case 'bpf_skb_set_tunnel_key':
      case 'bpf_skb_get_tunnel_key': {
        // struct bpf_tunnel_key in the stack buffer, its sizes (44 and the older 28, 24, 22, 8, and one that is
        // none); a set key mostly with tunnel_ext (and, for IPv4, tunnel_label) zeroed, as the kernel wants them.
        const size = rng.pick([44, 44, 44, 28, 24, 22, 8, 40]);
        // 4-byte aligned: the verifier refuses misaligned stores to the stack.
        const at = -STACK + 4 * rng.int(Math.floor((STACK - size) / 4) + 1);
        const set = name === 'bpf_skb_set_tunnel_key';
        // A get mostly asks for the IP version the last set gave (BPF_F_TUNINFO_IPV6), now and then with BPF_F_TUNINFO_FLAGS.
        const flags = set ? rng.pick([0, 1, 2, 4, 8, 16, 0x1f, 0x20]) : rng.chance(0.9) ? tunnelV6 | rng.pick([0, 16]) : rng.pick([0, 1, 16, 17, 2]);
        if (set) tunnelV6 = flags & 1;
        if (set && size >= 24 && rng.chance(0.8)) insns.push({ code: op.BPF_ST | op.BPF_MEM | op.BPF_H, dst: 10, src: 0, off: at + 22, imm: 0 });
        if (set && size >= 28 && !(flags & 1) && rng.chance(0.8)) insns.push({ code: op.BPF_ST | op.BPF_MEM | op.BPF_W, dst: 10, src: 0, off: at + 24, imm: 0 });
        insns.push(movReg(1, 6), movReg(2, 10), add64(2, at), mov64(3, size), mov64(4, flags));
        break;
      }
      case 'bpf_skb_set_tunnel_opt':
      case 'bpf_skb_get_tunnel_opt': {
        const size = rng.pick(name === 'bpf_skb_set_tunnel_opt' ? [4, 8, 12, 6, 40, 64] : [4, 8, 16, 64, 2]);
        insns.push(movReg(1, 6), movReg(2, 10), add64(2, -STACK + rng.int(STACK - size + 1)), mov64(3, size));
        break;
      }
      case 'bpf_skb_set_tstamp':
        // BPF_SKB_CLOCK_REALTIME, MONOTONIC, TAI and one that is none; times 0, an input, edges.
        insns.push(movReg(1, 6), rng.chance(0.5) ? movReg(2, 8) : mov64(2, rng.pick([0, 0, 1, -1, imm32(rng)])), mov64(3, rng.pick([0, 1, 2, 2, 3])));
        break;
      case 'bpf_csum_update':
        insns.push(movReg(1, 6), rng.chance(0.5) ? movReg(2, 8) : mov64(2, imm32(rng)));
        break;
      default:
        insns.push(movReg(1, 6));
    }
    insns.push({ code: op.BPF_JMP | op.BPF_CALL, dst: 0, src: 0, off: 0, imm: helperId(name) }, stx(op.BPF_DW, 10, 0, resultSlot(c)));
    insns.push({ code: op.BPF_ALU64 | op.BPF_MUL | op.BPF_K, dst: 7, src: 0, off: 0, imm: 31 }, { code: op.BPF_ALU64 | op.BPF_ADD | op.BPF_X, dst: 7, src: 0, off: 0, imm: 0 });
    // Vary r8 between calls, so register arguments change too.
    if (rng.chance(0.5)) insns.push({ code: op.BPF_ALU64 | op.BPF_XOR | op.BPF_K, dst: 8, src: 0, off: 0, imm: imm32(rng) });
  }
  if (kind === 'tc') {
    const fold = (reg: number): Insn[] => [
      { code: op.BPF_ALU64 | op.BPF_MUL | op.BPF_K, dst: 7, src: 0, off: 0, imm: 31 },
      { code: op.BPF_ALU64 | op.BPF_ADD | op.BPF_X, dst: 7, src: reg, off: 0, imm: 0 },
    ];
    // A socket buffer's len, protocol, VLAN tag (vlan_present, vlan_tci, vlan_proto), hash and tstamp (and its clock) folded in too,
    for (const off of [0, 16, 20, 24, 28, 68]) insns.push(ldx(op.BPF_W, 1, 6, off), ...fold(1));
    insns.push(ldx(op.BPF_DW, 1, 6, 152), ...fold(1), ldx(op.BPF_B, 1, 6, 180), ...fold(1));
    // and what no field shows: where the mac and network headers are now (8 bytes from each, or -EFAULT
    // past the end; into a slot below the results) and the checksum state (bpf_csum_level's query).
    for (const start of [0, 1]) {
      insns.push(movReg(1, 6), mov64(2, 0), movReg(3, 10), add64(3, PROBE_SLOT), mov64(4, 8), mov64(5, start));
      insns.push({ code: op.BPF_JMP | op.BPF_CALL, dst: 0, src: 0, off: 0, imm: helperId('bpf_skb_load_bytes_relative') }, ...fold(0));
      insns.push(ldx(op.BPF_DW, 1, 10, PROBE_SLOT), ...fold(1));
    }
    insns.push(movReg(1, 6), mov64(2, 0), { code: op.BPF_JMP | op.BPF_CALL, dst: 0, src: 0, off: 0, imm: helperId('bpf_csum_level') }, ...fold(0));
    // bpf_skb_change_tail to the length it has changes nothing but says whether the skb is encapsulated
    // (-ENOTSUPP) or its transport header is past the end (-EINVAL).
    insns.push(movReg(1, 6), ldx(op.BPF_W, 2, 6, 0), mov64(3, 0), { code: op.BPF_JMP | op.BPF_CALL, dst: 0, src: 0, off: 0, imm: helperId('bpf_skb_change_tail') }, ...fold(0));
  }
  // The helpers invalidated the packet pointers: read them again.
  const stores: Insn[] = [stx(op.BPF_DW, 9, 7, HELPER_OUT.r7)];
  for (let c = 0; c < MAX_HELPER_CALLS; c++) stores.push(ldx(op.BPF_DW, 1, 10, resultSlot(c)), stx(op.BPF_DW, 9, 1, HELPER_OUT.results + 8 * c));
  for (let s = 0; s < STACK / 8; s++) stores.push(ldx(op.BPF_DW, 1, 10, -STACK + 8 * s), stx(op.BPF_DW, 9, 1, HELPER_OUT.buffer + 8 * s));
  insns.push(ldx(op.BPF_W, 9, 6, dataOff), ldx(op.BPF_W, 8, 6, endOff), movReg(1, 9), add64(1, HELPER_OUT.end));
  insns.push({ code: op.BPF_JMP | op.BPF_JGT | op.BPF_X, dst: 1, src: 8, off: stores.length + 2, imm: 0 });
  insns.push(...stores, mov64(0, 2), exit);
  insns.push(movReg(0, 7), exit);
  return insns;
}

/**
 * A packet for randomHelperProgram: HELPER_PACKET_MIN to 300 random bytes
 * (r7, the stack, r8 inside the first 80); for XDP now and then a
 * multi-buffer frame, longer than the 3,520 bytes of the linear part (its
 * fragments a page each, the last one partly filled).
 */
export function randomHelperPacket(rng: Rng, kind: 'xdp' | 'tc' = 'tc'): Buffer {
  const long = kind === 'xdp' && rng.chance(0.3) ? 3400 + rng.int(9000) : 0;
  const len = long || (rng.chance(0.3) ? HELPER_PACKET_MIN + rng.int(HELPER_OUT.end + 8 - HELPER_PACKET_MIN) : HELPER_PACKET_MIN + rng.int(300 - HELPER_PACKET_MIN + 1));
  const b = Buffer.from(rng.bytes(len));
  if (rng.chance(0.5)) b.writeBigUInt64LE(rng.pick(U64_EDGES), 72);
  // Some frames VLAN-tagged, once or twice (802.1Q, 802.1ad), for the skb VLAN helpers; some IPv4 or
  // IPv6 (the headers the protocol and room helpers work on).
  if (rng.chance(0.25)) {
    b.writeUInt16BE(rng.pick([0x8100, 0x88a8]), 12);
    b.writeUInt16BE(rng.pick([0x0800, 0x86dd, 0x8100, 0x0806, 0x0001]), 16);
  } else if (rng.chance(0.85)) b.writeUInt16BE(rng.pick([0x0800, 0x86dd]), 12);
  return b;
}

// ---------------------------------------------------------------- classic packet loads

const SKF_NET_OFF = -0x100000;
const SKF_LL_OFF = -0x200000;

/** An offset near an edge the kernel checks: the frame's end, the network and link-layer bases, the headroom. */
function legacyOffset(rng: Rng): number {
  const k = rng.int(10);
  if (k < 4) return rng.int(11); // inside any frame (at least 14 bytes)
  switch (k) {
    case 4:
      return 20 + rng.int(110); // around the end of a 14..120-byte frame
    case 5:
      return SKF_NET_OFF - 80 + rng.int(160); // before the network header (the Ethernet header, the headroom) and after
    case 6:
      return SKF_LL_OFF - 8 + rng.int(140);
    case 7:
      return rng.pick([-1, -4, SKF_LL_OFF - 1, -0x7fffffff, 0x7fffffff, 0xffff, 0x10000]);
    case 8:
      return SKF_NET_OFF + rng.int(20);
    default:
      return rng.u32() | 0;
  }
}

/**
 * A socket filter or TC program of `loads` LD_ABS/LD_IND (every size, random
 * offsets near the edges; IND with r8 as the base) folding each r0 into r7
 * (r7 = r7 * 31 + r0) and returning r7's low 32 bits: the first load that
 * fails ends the program with 0, so the return value tells how far it got.
 */
export function randomLegacyLoadProgram(rng: Rng, loads: number): Insn[] {
  const insns: Insn[] = [movReg(6, 1), mov64(7, rng.int(1000))];
  const sizes = [op.BPF_B, op.BPF_H, op.BPF_W];
  for (let k = 0; k < loads; k++) {
    const size = rng.pick(sizes);
    if (rng.chance(0.5)) {
      insns.push({ code: op.BPF_LD | op.BPF_ABS | size, dst: 0, src: 0, off: 0, imm: legacyOffset(rng) });
    } else {
      // IND: r8 + imm, added as 64 bits and taken as a 32-bit int.
      const base = legacyOffset(rng);
      const imm = rng.chance(0.6) ? rng.int(16) - 8 : legacyOffset(rng);
      if (rng.chance(0.2)) insns.push({ code: op.LD_IMM64, dst: 8, src: 0, off: 0, imm: base, imm2: rng.pick([0, -1, 1]) });
      else insns.push(mov64(8, base));
      insns.push({ code: op.BPF_LD | op.BPF_IND | size, dst: 0, src: 8, off: 0, imm });
    }
    insns.push({ code: op.BPF_ALU64 | op.BPF_MUL | op.BPF_K, dst: 7, src: 0, off: 0, imm: 31 }, { code: op.BPF_ALU64 | op.BPF_ADD | op.BPF_X, dst: 7, src: 0, off: 0, imm: 0 });
  }
  insns.push(movReg(0, 7), exit);
  return insns;
}

/** A frame of 14 to 120 random bytes (an Ethernet header at least, as test_run requires). */
export function randomFrame(rng: Rng): Buffer {
  const b = Buffer.from(rng.bytes(14 + rng.int(107)));
  // An IPv4 or IPv6 EtherType shorter than its header is a frame a test run refuses before the program runs
  // (differential.test.ts compares those refusals): another EtherType then.
  const type = b.readUInt16BE(12);
  if ((type === 0x0800 && b.length < 34) || (type === 0x86dd && b.length < 54)) b.writeUInt16BE(type ^ 0x4000, 12);
  return b;
}

// ---------------------------------------------------------------- map helper calls

/** The map the third kind of random program works on: u32 keys, u64 values, four entries (so it fills up). */
export const RANDOM_MAP = { name: 'rand_map', keySize: 4, valueSize: 8, maxEntries: 4 } as const;

/**
 * An XDP program of `ops` map operations on RANDOM_MAP (lookup, then maybe an
 * in-place add through the pointer; update with BPF_ANY, BPF_NOEXIST,
 * BPF_EXIST or a flag the kernel refuses; delete), keys 0-5 and 0xffffffff,
 * each result folded into r7 (a lookup's value, or 0x5a5a when it found
 * nothing). Returns r7's low 32 bits. `mapLoads` receives the slot of every
 * ld_imm64 of the map (the relocation the loader resolves).
 */
export function randomMapProgram(rng: Rng, ops: number, helperId: (name: string) => number, mapLoads: number[]): Insn[] {
  const insns: Insn[] = [movReg(6, 1), mov64(7, rng.int(1000))];
  const loadMap = (dst: number) => {
    // Relocations count 8-byte slots (each ld_imm64 before takes two).
    mapLoads.push(slotCount(insns));
    insns.push({ code: op.LD_IMM64, dst, src: 0, off: 0, imm: 0, imm2: 0 });
  };
  const fold = () => insns.push({ code: op.BPF_ALU64 | op.BPF_MUL | op.BPF_K, dst: 7, src: 0, off: 0, imm: 31 }, { code: op.BPF_ALU64 | op.BPF_ADD | op.BPF_X, dst: 7, src: 0, off: 0, imm: 0 });
  for (let k = 0; k < ops; k++) {
    const key = rng.pick([0, 1, 2, 3, 4, 5, -1]);
    insns.push({ code: op.BPF_ST | op.BPF_MEM | op.BPF_W, dst: 10, src: 0, off: -8, imm: key });
    insns.push({ code: op.BPF_ST | op.BPF_MEM | op.BPF_DW, dst: 10, src: 0, off: -16, imm: imm32(rng) });
    const what = rng.int(3);
    loadMap(1);
    insns.push(movReg(2, 10), add64(2, -8));
    if (what === 0) {
      insns.push({ code: op.BPF_JMP | op.BPF_CALL, dst: 0, src: 0, off: 0, imm: helperId('map_lookup_elem') });
      // Found: fold the value (and maybe add to it in place); not found: fold 0x5a5a.
      const add = rng.chance(0.5);
      insns.push({ code: op.BPF_JMP | op.BPF_JNE | op.BPF_K, dst: 0, src: 0, off: 2, imm: 0 });
      insns.push(mov64(0, 0x5a5a), { code: op.BPF_JMP | op.BPF_JA, dst: 0, src: 0, off: add ? 4 : 1, imm: 0 });
      if (add) insns.push(ldx(op.BPF_DW, 1, 0, 0), add64(1, 1 + rng.int(100)), stx(op.BPF_DW, 0, 1, 0));
      insns.push(ldx(op.BPF_DW, 0, 0, 0));
    } else if (what === 1) {
      insns.push(movReg(3, 10), add64(3, -16), mov64(4, rng.pick([0, 0, 1, 1, 2, 2, 4, 8])));
      insns.push({ code: op.BPF_JMP | op.BPF_CALL, dst: 0, src: 0, off: 0, imm: helperId('map_update_elem') });
    } else {
      insns.push({ code: op.BPF_JMP | op.BPF_CALL, dst: 0, src: 0, off: 0, imm: helperId('map_delete_elem') });
    }
    fold();
  }
  insns.push(movReg(0, 7), exit);
  return insns;
}
