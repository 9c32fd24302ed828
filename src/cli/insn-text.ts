// One BPF instruction as text, in the kernel verifier's notation, for the
// forms CO-RE relocations touch (loads, stores, ALU immediates, ld_imm64,
// calls). Anything else is shown by its fields.

import { INSN_SIZE, type Insns } from '../object/instruction.js';

const SIZES: Record<number, string> = { 0x00: 'u32', 0x08: 'u16', 0x10: 'u8', 0x18: 'u64' };
const ALU_OPS: Record<number, string> = {
  0x00: '+=', 0x10: '-=', 0x20: '*=', 0x30: '/=', 0x40: '|=', 0x50: '&=', 0x60: '<<=', 0x70: '>>=',
  0x90: '%=', 0xa0: '^=', 0xb0: '=', 0xc0: 's>>=',
};

export function insnText(insns: Insns, i: number): string {
  const code = insns.code(i);
  const cls = code & 0x07;
  const dst = insns.dst(i);
  const src = insns.src(i);
  const off = insns.off(i);
  const imm = insns.imm(i);
  const at = (reg: number) => `(r${reg} ${off < 0 ? '-' : '+'} ${Math.abs(off)})`;
  const size = SIZES[code & 0x18] ?? '?';
  switch (cls) {
    case 0x01: // LDX
      return `r${dst} = *(${size} *)${at(src)}`;
    case 0x02: // ST
      return `*(${size} *)${at(dst)} = ${imm}`;
    case 0x03: // STX
      return `*(${size} *)${at(dst)} = r${src}`;
    case 0x04: // ALU
    case 0x07: {
      // ALU64
      const r = cls === 0x07 ? 'r' : 'w';
      const op = ALU_OPS[code & 0xf0];
      if (op && (code & 0x08) === 0) return `${r}${dst} ${op} ${imm}`;
      if (op) return `${r}${dst} ${op} ${r}${src}`;
      break;
    }
    case 0x00:
      if (insns.isLdImm64(i) && i + 1 < insns.count) {
        const v = (BigInt(insns.imm(i + 1) >>> 0) << 32n) | BigInt(imm >>> 0);
        return `r${dst} = ${v} ll`;
      }
      break;
    case 0x05:
      if ((code & 0xf0) === 0x80) return `call ${imm >>> 0}`;
      break;
  }
  const bytes = Array.from(insns.bytes.subarray(i * INSN_SIZE, (i + 1) * INSN_SIZE), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return `(${bytes})`;
}
