// struct bpf_insn decoded and encoded. One Insn per instruction; ld_imm64
// occupies two 8-byte slots and carries the upper half in `imm2`. `slot` is
// the 8-byte index jumps and line info count in.

import { BpfError } from '../errors.js';
import { LD_IMM64 } from './opcode.js';

export interface Insn {
  code: number;
  dst: number;
  src: number;
  /** s16 */
  off: number;
  /** s32 */
  imm: number;
  /** ld_imm64 only: the second slot's imm (upper 32 bits of the constant). */
  imm2?: number;
  /** Slot index in the program (set by decode). */
  slot?: number;
}

export const INSN_SIZE = 8;

export function isLdImm64(i: Pick<Insn, 'code'>): boolean {
  return i.code === LD_IMM64;
}

/** The slots an instruction takes: 2 for ld_imm64, else 1. */
export function slots(i: Pick<Insn, 'code'>): 1 | 2 {
  return i.code === LD_IMM64 ? 2 : 1;
}

/** ld_imm64's 64-bit constant. */
export function imm64(i: Insn): bigint {
  return (BigInt((i.imm2 ?? 0) >>> 0) << 32n) | BigInt(i.imm >>> 0);
}

/** Raw fields of one slot. */
export interface Slot {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

export function readSlot(bytes: Uint8Array, index: number, littleEndian = true): Slot {
  const p = index * INSN_SIZE;
  const dv = new DataView(bytes.buffer, bytes.byteOffset + p, INSN_SIZE);
  const regs = dv.getUint8(1);
  return {
    code: dv.getUint8(0),
    dst: littleEndian ? regs & 0xf : regs >> 4,
    src: littleEndian ? regs >> 4 : regs & 0xf,
    off: dv.getInt16(2, littleEndian),
    imm: dv.getInt32(4, littleEndian),
  };
}

/**
 * Decode a program. An ld_imm64 cut off by the end of the program is an
 * error; the second slot's other fields are kept in `Insn` only as far as the
 * validator needs them (they must be zero).
 */
export function decode(bytes: Uint8Array, littleEndian = true, label = 'program'): Insn[] {
  if (bytes.byteLength % INSN_SIZE !== 0) {
    throw new BpfError('INSN_INVALID', `${label}: ${bytes.byteLength} bytes is not a whole number of 8-byte instructions`);
  }
  const n = bytes.byteLength / INSN_SIZE;
  const out: Insn[] = [];
  for (let i = 0; i < n; i++) {
    const s = readSlot(bytes, i, littleEndian);
    const insn: Insn = { ...s, slot: i };
    if (s.code === LD_IMM64) {
      if (i + 1 >= n) throw new BpfError('INSN_INVALID', `${label}: instruction ${i}: ld_imm64 has no second slot (the program ends)`);
      const t = readSlot(bytes, i + 1, littleEndian);
      if (t.code !== 0 || t.dst !== 0 || t.src !== 0 || t.off !== 0) {
        throw new BpfError('INSN_INVALID', `${label}: instruction ${i}: ld_imm64's second slot must have zero code, registers and offset`);
      }
      insn.imm2 = t.imm;
      i++;
    }
    out.push(insn);
  }
  return out;
}

/** Encode instructions (ld_imm64 as two slots). */
export function encode(insns: readonly Insn[], littleEndian = true): Uint8Array {
  let n = 0;
  for (const i of insns) n += slots(i);
  const bytes = new Uint8Array(n * INSN_SIZE);
  const dv = new DataView(bytes.buffer);
  let p = 0;
  const put = (code: number, dst: number, src: number, off: number, imm: number) => {
    bytes[p] = code;
    bytes[p + 1] = littleEndian ? (src << 4) | (dst & 0xf) : (dst << 4) | (src & 0xf);
    dv.setInt16(p + 2, off, littleEndian);
    dv.setInt32(p + 4, imm, littleEndian);
    p += INSN_SIZE;
  };
  for (const i of insns) {
    put(i.code, i.dst, i.src, i.off, i.imm);
    if (i.code === LD_IMM64) put(0, 0, 0, 0, i.imm2 ?? 0);
  }
  return bytes;
}

/** Slot index of each instruction (prefix sums of `slots`). */
export function slotIndex(insns: readonly Insn[]): number[] {
  const out: number[] = [];
  let s = 0;
  for (const i of insns) {
    out.push(s);
    s += slots(i);
  }
  return out;
}

/** The number of 8-byte slots `insns` take. */
export function slotCount(insns: readonly Insn[]): number {
  let n = 0;
  for (const i of insns) n += slots(i);
  return n;
}

/** Each instruction with its slot index (what `slotIndex` gives) and its index in `insns`. */
export function* withSlots(insns: readonly Insn[]): Generator<[slot: number, insn: Insn, index: number]> {
  let s = 0;
  for (const [n, i] of insns.entries()) {
    yield [s, i, n];
    s += slots(i);
  }
}

/** The instruction at `slot` (with its second slot when it is an ld_imm64 and one follows). */
export function decodeAt(bytes: Uint8Array, slot: number, littleEndian = true): Insn {
  const s = readSlot(bytes, slot, littleEndian);
  const insn: Insn = { ...s, slot };
  if (s.code === LD_IMM64 && (slot + 2) * INSN_SIZE <= bytes.byteLength) insn.imm2 = readSlot(bytes, slot + 1, littleEndian).imm;
  return insn;
}
