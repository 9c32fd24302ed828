// Every failure bpf-ts reports is a BpfError with a stable `code`, so callers
// (and the CLI) can branch on it without parsing messages.

import type { CoreRelocation, LineInfo } from './btf/ext.js';

export type BpfErrorCode =
  // object layer
  | 'ELF_TRUNCATED'
  | 'ELF_BAD_MAGIC'
  | 'ELF_UNSUPPORTED'
  | 'ELF_BAD_SECTION'
  | 'ELF_BAD_SYMBOL'
  | 'ELF_BAD_STRING'
  | 'ELF_BAD_RELOCATION'
  | 'BTF_INVALID'
  | 'BTF_EXT_INVALID'
  | 'MAP_INVALID'
  | 'MAP_UNKNOWN_TYPE'
  | 'PROGRAM_INVALID'
  | 'PROGRAM_NOT_FOUND'
  | 'MAP_NOT_FOUND'
  | 'VARIABLE_NOT_FOUND'
  // kernel layer
  | 'SYSCALL'
  | 'VERIFIER'
  | 'NOT_ROOT'
  | 'NOT_BPFFS'
  | 'PIN_EXISTS'
  | 'PIN_MISMATCH'
  | 'PIN_UNSAFE'
  | 'BAD_PATH'
  | 'CLOSED'
  | 'KEY_SIZE'
  | 'VALUE_SIZE'
  | 'CORE_RELOCATION'
  | 'EVENT_BUFFER_CORRUPT'
  | 'READ_ONLY'
  | 'NOT_MMAPABLE'
  | 'EXTERN_UNRESOLVED'
  | 'KCONFIG_UNAVAILABLE'
  | 'ATTACH_TARGET'
  | 'MAP_SIZE'
  | 'TEST_RUN_OUTPUT'
  // attach layer
  | 'NETLINK'
  | 'NO_SUCH_INTERFACE'
  | 'NO_SUCH_NETNS'
  | 'ALREADY_ATTACHED'
  | 'NOT_ATTACHED'
  | 'NO_CGROUP2'
  | 'NO_SUCH_TARGET'
  | 'KERNEL_UNSUPPORTED'
  // arguments a caller passed (numbers out of range, unknown flags)
  | 'INVALID_ARGUMENT'
  | 'MEMORY_LIMIT'
  // instructions and emulation (asm/, vm/)
  | 'INSN_INVALID'
  | 'ASM_SYNTAX'
  | 'EMU_FAULT'
  | 'EMU_UNKNOWN_HELPER'
  | 'EMU_LIMIT'
  // CLI
  | 'USAGE'
  | 'IO';

export class BpfError extends Error {
  readonly code: BpfErrorCode;
  /** Multi-line context the one-line message leaves out (e.g. a verifier log tail). */
  details?: string;
  constructor(code: BpfErrorCode, message: string, options?: { cause?: unknown; details?: string }) {
    super(message, options);
    this.name = 'BpfError';
    this.code = code;
    if (options?.details) this.details = options.details;
  }
}

/** The verifier refused a program: its log, the instruction it stopped at and the C line behind it. */
export class VerifierError extends BpfError {
  /** The whole verifier log. */
  readonly log: string;
  /** Index of the last instruction the log mentions, -1 when it names none. */
  readonly instruction: number;
  /** The source line of that instruction, from the object's line_info (undefined without BTF line info). */
  readonly sourceLine: LineInfo | undefined;
  constructor(message: string, info: { log: string; instruction: number; sourceLine?: LineInfo | undefined; details?: string; cause?: unknown }) {
    super('VERIFIER', message, { details: info.details, cause: info.cause });
    this.name = 'VerifierError';
    this.log = info.log;
    this.instruction = info.instruction;
    this.sourceLine = info.sourceLine;
  }
}

/** A CO-RE relocation could not be resolved against the kernel's BTF, and the verifier refused the poisoned instruction. */
export class CoreRelocationError extends BpfError {
  /** The verifier log ('' when the failure was found before loading). */
  readonly log: string;
  /** Index of the poisoned instruction, -1 when unknown. */
  readonly instruction: number;
  /** The relocation that failed, when known. */
  readonly relocation: CoreRelocation | undefined;
  constructor(message: string, info: { log?: string; instruction?: number; relocation?: CoreRelocation | undefined; details?: string; cause?: unknown } = {}) {
    super('CORE_RELOCATION', message, { details: info.details, cause: info.cause });
    this.name = 'CoreRelocationError';
    this.log = info.log ?? '';
    this.instruction = info.instruction ?? -1;
    this.relocation = info.relocation;
  }
}

/**
 * `xs[i]` where the caller has established that `i` is in range (an index
 * computed from the same input): a miss throws BpfError `code` naming `what`,
 * never hands back `undefined` to fail later.
 */
export function at<T>(xs: ArrayLike<T>, i: number, code: BpfErrorCode, what: string): T {
  const x = xs[i];
  if (x === undefined) throw new BpfError(code, `${what}: index ${i} is outside 0..${xs.length - 1}`);
  return x;
}
