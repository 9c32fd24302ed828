// enum bpf_core_relo_kind (include/uapi/linux/bpf.h) and the three families
// libbpf sorts the kinds into: each family is resolved differently.

export const BPF_CORE_FIELD_BYTE_OFFSET = 0;
export const BPF_CORE_FIELD_BYTE_SIZE = 1;
export const BPF_CORE_FIELD_EXISTS = 2;
export const BPF_CORE_FIELD_SIGNED = 3;
export const BPF_CORE_FIELD_LSHIFT_U64 = 4;
export const BPF_CORE_FIELD_RSHIFT_U64 = 5;
export const BPF_CORE_TYPE_ID_LOCAL = 6;
export const BPF_CORE_TYPE_ID_TARGET = 7;
export const BPF_CORE_TYPE_EXISTS = 8;
export const BPF_CORE_TYPE_SIZE = 9;
export const BPF_CORE_ENUMVAL_EXISTS = 10;
export const BPF_CORE_ENUMVAL_VALUE = 11;
export const BPF_CORE_TYPE_MATCHES = 12;

/** Kinds whose access string walks struct members and array elements. */
export function coreReloIsFieldBased(kind: number): boolean {
  return kind >= BPF_CORE_FIELD_BYTE_OFFSET && kind <= BPF_CORE_FIELD_RSHIFT_U64;
}

/** Kinds about a whole type (access string is always "0"). */
export function coreReloIsTypeBased(kind: number): boolean {
  return (kind >= BPF_CORE_TYPE_ID_LOCAL && kind <= BPF_CORE_TYPE_SIZE) || kind === BPF_CORE_TYPE_MATCHES;
}

/** Kinds about one enumerator (access string is its index). */
export function coreReloIsEnumvalBased(kind: number): boolean {
  return kind === BPF_CORE_ENUMVAL_EXISTS || kind === BPF_CORE_ENUMVAL_VALUE;
}

/**
 * Kinds that answer "is it there?": with no matching target they resolve to
 * 0 instead of poisoning the instruction, so programs can branch on them.
 */
export function coreReloIsExistence(kind: number): boolean {
  return kind === BPF_CORE_FIELD_EXISTS || kind === BPF_CORE_TYPE_EXISTS || kind === BPF_CORE_ENUMVAL_EXISTS || kind === BPF_CORE_TYPE_MATCHES;
}
