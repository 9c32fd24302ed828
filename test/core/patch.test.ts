// The instruction patcher on hand-assembled instructions: each form CO-RE
// may touch, the checks libbpf makes before writing, and poisoning.
import { describe, expect, it } from 'vitest';
import { BPF_CORE_POISON_HELPER, type CoreReloValues, patchCoreInsn, poisonInsn } from '../../src/object/core/index.js';
import { Insns } from '../../src/object/instruction.js';

/** Little-endian instructions from [code, dst, src, off, imm] tuples. */
function asm(...insns: [number, number, number, number, number][]): Insns {
  const b = new Uint8Array(insns.length * 8);
  const dv = new DataView(b.buffer);
  insns.forEach(([code, dst, src, off, imm], i) => {
    b[i * 8] = code;
    b[i * 8 + 1] = (src << 4) | dst;
    dv.setInt16(i * 8 + 2, off, true);
    dv.setInt32(i * 8 + 4, imm, true);
  });
  return new Insns(b, true);
}

const res = (o: Partial<CoreReloValues>): CoreReloValues => ({
  localValue: 0n,
  targetValue: 0n,
  poison: false,
  validate: true,
  localSize: 0,
  targetSize: 0,
  localTypeId: 0,
  targetTypeId: 0,
  failMemszAdjust: false,
  ...o,
});

const LDX_W = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const LDX_DW = 0x79;
const ST_W = 0x62;
const STX_B = 0x73;
const MOV64_K = 0xb7;
const LSH64_K = 0x67;
const MOV64_X = 0xbf;
const LD_IMM64 = 0x18;

describe('patchCoreInsn', () => {
  it('ALU/ALU64 immediate: checked against the local value, then replaced', () => {
    const i = asm([MOV64_K, 1, 0, 0, 1328], [LSH64_K, 1, 0, 0, 60]);
    expect(patchCoreInsn(i, 0, res({ localValue: 1328n, targetValue: 1344n }), 't')).toBe('patched');
    expect(i.imm(0)).toBe(1344);
    expect(() => patchCoreInsn(i, 1, res({ localValue: 56n, targetValue: 50n }), 't')).toThrow(/holds 60, expected 56/);
    // Bitfield relocations skip the check.
    patchCoreInsn(i, 1, res({ localValue: 56n, targetValue: 50n, validate: false }), 't');
    expect(i.imm(1)).toBe(50);
    expect(() => patchCoreInsn(asm([MOV64_X, 1, 2, 0, 0]), 0, res({}), 't')).toThrow(/register operand/);
  });

  it('LDX/ST/STX offset, and the load width when the field changed size', () => {
    const i = asm([LDX_W, 2, 1, 8, 0], [ST_W, 10, 0, -4, 7], [STX_B, 1, 2, 3, 0]);
    patchCoreInsn(i, 0, res({ localValue: 8n, targetValue: 24n, localSize: 4, targetSize: 8 }), 't');
    expect(i.off(0)).toBe(24);
    expect(i.code(0)).toBe(LDX_DW);
    expect(i.dst(0)).toBe(2);
    expect(i.src(0)).toBe(1);
    // Negative offsets compare as the compiler wrote them (sign-extended).
    patchCoreInsn(i, 1, res({ localValue: BigInt.asUintN(64, -4n), targetValue: 12n }), 't');
    expect(i.off(1)).toBe(12);
    expect(i.imm(1)).toBe(7);
    expect(() => patchCoreInsn(i, 2, res({ localValue: 3n, targetValue: 0x8000n }), 't')).toThrow(/does not fit 16 bits/);
    expect(() => patchCoreInsn(i, 2, res({ localValue: 3n, targetValue: 4n, localSize: 2, targetSize: 4 }), 't')).toThrow(/accesses 1 bytes, expected 2/);
    expect(() => patchCoreInsn(i, 2, res({ localValue: 3n, targetValue: 4n, localSize: 1, targetSize: 3 }), 't')).toThrow(/no load or store is 3 bytes/);
  });

  it('a size change that would misread a signed field poisons the load', () => {
    const i = asm([LDX_W, 2, 1, 8, 0]);
    expect(patchCoreInsn(i, 0, res({ localValue: 8n, targetValue: 8n, localSize: 4, targetSize: 8, failMemszAdjust: true }), 't')).toBe('poisoned');
    expect(i.code(0)).toBe(0x85);
    expect(i.imm(0)).toBe(BPF_CORE_POISON_HELPER);
  });

  it('ld_imm64: both halves carry the 64-bit value', () => {
    const i = asm([LD_IMM64, 1, 0, 0, 27], [0, 0, 0, 0, 0]);
    patchCoreInsn(i, 0, res({ localValue: 27n, targetValue: 0x1_2345_6789n }), 't');
    expect(i.imm(0) >>> 0).toBe(0x2345_6789);
    expect(i.imm(1)).toBe(1);
    expect(() => patchCoreInsn(i, 0, res({ localValue: 27n, targetValue: 1n }), 't')).toThrow(/holds 4886718345, expected 27/);
    const mapLoad = asm([LD_IMM64, 1, 1, 0, 3], [0, 0, 0, 0, 0]); // src_reg = BPF_PSEUDO_MAP_FD
    expect(() => patchCoreInsn(mapLoad, 0, res({ localValue: 3n, targetValue: 1n }), 't')).toThrow(/not a plain ld_imm64/);
  });

  it('poisoning an ld_imm64 replaces both halves, so the verifier names the call and not opcode 0', () => {
    const i = asm([LD_IMM64, 1, 0, 0, 27], [0, 0, 0, 0, 0], [0x95, 0, 0, 0, 0]);
    expect(patchCoreInsn(i, 0, res({ poison: true }), 't')).toBe('poisoned');
    for (const k of [0, 1]) {
      expect(i.code(k)).toBe(0x85);
      expect(i.imm(k)).toBe(195896080);
      expect(i.dst(k)).toBe(0);
      expect(i.off(k)).toBe(0);
    }
    expect(i.code(2)).toBe(0x95);
    const one = asm([MOV64_K, 3, 0, 0, 5]);
    poisonInsn(one, 0);
    expect([one.code(0), one.dst(0), one.imm(0)]).toEqual([0x85, 0, 0xbad2310]);
  });

  it('refuses instructions that cannot carry a relocation', () => {
    expect(() => patchCoreInsn(asm([0x95, 0, 0, 0, 0]), 0, res({}), 'where')).toThrow(/where: instruction 0 \(opcode 0x95\)/);
    expect(() => patchCoreInsn(asm([0x95, 0, 0, 0, 0]), 4, res({}), 'where')).toThrow(/outside the program/);
  });
});
