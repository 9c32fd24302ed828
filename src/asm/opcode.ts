// The eBPF instruction set's opcode fields (RFC 9669 plus the kernel's
// extensions), as the UAPI names them. An opcode byte is class (low 3 bits)
// plus, for ALU/JMP, source (bit 3) and operation (high 4 bits), and for
// loads/stores, size (bits 3-4) and mode (high 3 bits).

// Classes
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;

// Source
export const BPF_K = 0x00;
export const BPF_X = 0x08;

// ALU operations
export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;
export const BPF_MOV = 0xb0;
export const BPF_ARSH = 0xc0;
export const BPF_END = 0xd0;
/** BPF_END source bit: to little endian (0) or big endian (BPF_X). */
export const BPF_TO_LE = 0x00;
export const BPF_TO_BE = 0x08;

// Jump operations
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_JNE = 0x50;
export const BPF_JSGT = 0x60;
export const BPF_JSGE = 0x70;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_JLT = 0xa0;
export const BPF_JLE = 0xb0;
export const BPF_JSLT = 0xc0;
export const BPF_JSLE = 0xd0;
/** may_goto and friends: BPF_JMP | BPF_JCOND, src_reg = BPF_MAY_GOTO. */
export const BPF_JCOND = 0xe0;
export const BPF_MAY_GOTO = 0;

// Sizes
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;

// Modes
export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
export const BPF_MEMSX = 0x80;
export const BPF_ATOMIC = 0xc0;

// Atomic operations (imm of BPF_STX | BPF_ATOMIC)
export const BPF_FETCH = 0x01;
export const BPF_XCHG = 0xe0 | BPF_FETCH;
export const BPF_CMPXCHG = 0xf0 | BPF_FETCH;
export const BPF_LOAD_ACQ = 0x100;
export const BPF_STORE_REL = 0x110;

// ld_imm64 src_reg meanings
export const BPF_PSEUDO_MAP_FD = 1;
export const BPF_PSEUDO_MAP_VALUE = 2;
export const BPF_PSEUDO_BTF_ID = 3;
export const BPF_PSEUDO_FUNC = 4;
export const BPF_PSEUDO_MAP_IDX = 5;
export const BPF_PSEUDO_MAP_IDX_VALUE = 6;
// call src_reg meanings
export const BPF_PSEUDO_CALL = 1;
export const BPF_PSEUDO_KFUNC_CALL = 2;

export const LD_IMM64 = BPF_LD | BPF_IMM | BPF_DW;
export const CALL = BPF_JMP | BPF_CALL;
export const CALLX = BPF_JMP | BPF_CALL | BPF_X;
export const EXIT = BPF_JMP | BPF_EXIT;

// Forms only the kernel writes, seen in translated (xlated) code:
/** movsx's `off` value that marks a per-CPU address made absolute (BPF_ADDR_PERCPU). */
export const BPF_ADDR_PERCPU = -1;
/** BPF_ST | BPF_NOSPEC: a speculation barrier. */
export const NOSPEC = BPF_ST | 0xc0;

export const cls = (code: number): number => code & 0x07;
export const aluOp = (code: number): number => code & 0xf0;
export const srcBit = (code: number): number => code & 0x08;
export const size = (code: number): number => code & 0x18;
export const mode = (code: number): number => code & 0xe0;

/** Bytes moved by a load/store of this size field. */
export function sizeBytes(sizeField: number): 1 | 2 | 4 | 8 {
  return sizeField === BPF_B ? 1 : sizeField === BPF_H ? 2 : sizeField === BPF_W ? 4 : 8;
}

/** Register count: r0..r10. */
export const MAX_BPF_REG = 11;
/** Bytes of stack per frame. */
export const MAX_BPF_STACK = 512;
/** Call frames: the program plus 7 nested bpf-to-bpf calls. */
export const MAX_CALL_FRAMES = 8;
