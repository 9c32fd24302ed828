// Every failure bpf-ts reports is a BpfError with a stable `code`, so callers
// (and the CLI) can branch on it without parsing messages.

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
