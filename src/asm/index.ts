// bpf-ts/asm: eBPF instructions as data and as text. Pure: no kernel, no koffi.
export * from './opcode.js';
export { type Insn, type Slot, INSN_SIZE, decode, decodeAt, encode, imm64, isLdImm64, readSlot, slotIndex, slots } from './insn.js';
export { validate, insnProblem, jumpTarget } from './validate.js';
export { type DisasmLine, type DisasmNames, disassemble, formatListing, insnText } from './disasm.js';
export { type AssembleResult, assemble } from './assembler.js';
export { type DataFile, parseDataFile, parseHexBytes, rawText } from './data-file.js';
export { type ListingLine, programListing } from './listing.js';
export { HELPER_NAMES, helperId, helperName } from './helpers.js';
