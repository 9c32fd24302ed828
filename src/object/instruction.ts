// struct bpf_insn, 8 bytes: code, dst_reg:4 / src_reg:4, off (s16), imm (s32).
// The register nibbles swap places with the byte order: on little-endian
// targets src is the high nibble, on big-endian targets dst is.

export const INSN_SIZE = 8;

// Instruction classes and codes used by the loader.
export const BPF_LD = 0x00;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_K = 0x00;
export const BPF_IMM = 0x00;
export const BPF_DW = 0x18;
/** ld_imm64: BPF_LD | BPF_IMM | BPF_DW, a two-slot instruction. */
export const LD_IMM64 = BPF_LD | BPF_IMM | BPF_DW;
export const CALL = BPF_JMP | BPF_CALL;

// src_reg values that give ld_imm64 and call their pseudo meanings.
export const BPF_PSEUDO_MAP_FD = 1;
export const BPF_PSEUDO_MAP_VALUE = 2;
export const BPF_PSEUDO_BTF_ID = 3;
export const BPF_PSEUDO_FUNC = 4;
export const BPF_PSEUDO_CALL = 1;
export const BPF_PSEUDO_KFUNC_CALL = 2;

/** Read and patch instructions in a buffer of a given byte order. */
export class Insns {
  readonly dv: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly littleEndian: boolean,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get count(): number {
    return this.bytes.byteLength / INSN_SIZE;
  }
  code(i: number): number {
    return this.dv.getUint8(i * INSN_SIZE);
  }
  src(i: number): number {
    const r = this.dv.getUint8(i * INSN_SIZE + 1);
    return this.littleEndian ? r >> 4 : r & 0xf;
  }
  dst(i: number): number {
    const r = this.dv.getUint8(i * INSN_SIZE + 1);
    return this.littleEndian ? r & 0xf : r >> 4;
  }
  setSrc(i: number, v: number): void {
    const p = i * INSN_SIZE + 1;
    const r = this.dv.getUint8(p);
    this.dv.setUint8(p, this.littleEndian ? (r & 0x0f) | (v << 4) : (r & 0xf0) | v);
  }
  off(i: number): number {
    return this.dv.getInt16(i * INSN_SIZE + 2, this.littleEndian);
  }
  setOff(i: number, v: number): void {
    this.dv.setInt16(i * INSN_SIZE + 2, v, this.littleEndian);
  }
  imm(i: number): number {
    return this.dv.getInt32(i * INSN_SIZE + 4, this.littleEndian);
  }
  setImm(i: number, v: number): void {
    this.dv.setInt32(i * INSN_SIZE + 4, v, this.littleEndian);
  }
  isLdImm64(i: number): boolean {
    return this.code(i) === LD_IMM64;
  }
  /** A bpf-to-bpf call (not a helper or kfunc call). */
  isPseudoCall(i: number): boolean {
    return this.code(i) === CALL && this.src(i) === BPF_PSEUDO_CALL;
  }
}
