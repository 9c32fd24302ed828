// The object model: what a clang-built BPF ELF object describes, before any
// kernel object exists. Produced by the pure object layer (no syscalls),
// consumed by the kernel layer.

import type { Btf } from '../btf/btf.js';
import type { BtfExt, CoreRelocation, FuncInfo, LineInfo } from '../btf/ext.js';

/** How an object declared its pinning: none, iproute2's PIN_OBJECT_NS / PIN_GLOBAL_NS, or libbpf's LIBBPF_PIN_BY_NAME. */
export type Pinning = 'none' | 'object' | 'global' | 'by_name';

/** Which of the historical ways defined a map. */
export type MapStyle =
  | 'legacy' // struct bpf_map_def in "maps" (samples/bpf, goebpf)
  | 'iproute2' // struct bpf_elf_map in "maps"
  | 'btf' // BTF-defined in ".maps"
  | 'data' // .data / .rodata / .bss / .kconfig global data
  | 'struct_ops'; // a kernel struct of BPF programs in .struct_ops / .struct_ops.link

export interface MapSpec {
  name: string;
  /** BPF_MAP_TYPE_* value (UAPI enum bpf_map_type). */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  pinning: Pinning;
  style: MapStyle;
  /** ELF section the definition lives in. */
  section: string;
  /** numa_node (BTF maps) */
  numaNode?: number;
  /** map_extra (BTF maps, e.g. bloom filter hashes) */
  mapExtra?: bigint;
  /** iproute2 bpf_elf_map: id / inner_id / inner_idx used to wire map-in-map. */
  iproute2?: { id: number; innerId: number; innerIdx: number };
  /** Inner map template for array_of_maps / hash_of_maps. */
  innerMap?: MapSpec;
  /** BTF type ids of key and value (BTF maps and data maps), 0 when unknown. */
  btfKeyTypeId: number;
  btfValueTypeId: number;
  /** BTF type id of the map definition struct/datasec (for data maps the DATASEC id). */
  btfDefTypeId?: number;
  /** Global data: the initial bytes (zeroes for .bss). */
  initialValue?: Uint8Array;
  /** Global data: variables in the section, for setting `const volatile` values by name. */
  variables?: DataVariable[];
  /** .rodata and .rodata.*: freeze after the initial value is written. */
  freeze: boolean;
  /**
   * struct_ops maps: the kernel struct implemented (`tcp_congestion_ops`), its BTF id in the
   * object, the variable's bytes, which member each program fills, and whether a bpf_link registers it.
   */
  structOps?: { typeName: string; btfTypeId: number; data: Uint8Array; funcs: { member: string; program: string }[]; link: boolean };
  /**
   * false: not created at load unless set true first (libbpf's bpf_map__set_autocreate);
   * maps in `SEC("?.struct_ops")` start so, and their programs load only with them.
   */
  autocreate?: boolean;
  /** Declared initial contents (BTF `values = { … }`): slot -> name of a map or program. */
  contents?: { key: number; target: string; kind: 'map' | 'program' }[];
}

export interface DataVariable {
  name: string;
  offset: number;
  size: number;
  /** BTF type id of the variable, when BTF describes it. */
  btfTypeId: number;
}

/** A relocation the loader resolves against kernel objects when loading. */
export type ProgramRelocation =
  /** ld_imm64 of a map: src_reg = BPF_PSEUDO_MAP_FD, imm = map fd. */
  | { kind: 'map_fd'; insnIndex: number; map: string }
  /**
   * ld_imm64 into global data: src_reg = BPF_PSEUDO_MAP_VALUE, imm = fd, next imm = offset.
   * `arena`: an arena global (section .addr_space.1): `offset` counts from where the
   * loader puts the arena's globals (its last pages), not from the arena's start.
   */
  | { kind: 'map_value'; insnIndex: number; map: string; offset: number; arena?: true }
  /** ld_imm64 of a __ksym variable or of a kfunc's address: resolved against the kernel at load. */
  | { kind: 'extern'; insnIndex: number; symbol: string }
  /** A call of a kfunc (`extern … __ksym` function): BPF_PSEUDO_KFUNC_CALL with the kernel BTF id at load. */
  | { kind: 'kfunc'; insnIndex: number; symbol: string };

/** How a .kconfig extern's value is typed: bool, tristate (enum libbpf_tristate), char, integer, char array. */
export type KconfigType = 'bool' | 'tristate' | 'char' | 'int' | 'string' | 'unsupported';

/** An undefined symbol the loader resolves in the running kernel. */
export interface ExternSpec {
  name: string;
  /** kconfig: `__kconfig` variable; ksym: `__ksym` variable; kfunc: `__ksym` function; unknown: no BTF says what it is. */
  kind: 'kconfig' | 'ksym' | 'kfunc' | 'unknown';
  /** Declared `__weak`: a kernel without it gives 0 instead of an error. */
  weak: boolean;
  /** VAR or FUNC id in the object's BTF, 0 without one. */
  btfTypeId: number;
  /** .kconfig externs: where the value sits in the ".kconfig" map and how it is typed. */
  kconfig?: { offset: number; size: number; type: KconfigType; signed: boolean };
  /** __ksym variables declared `void`: their address comes from /proc/kallsyms, not BTF. */
  typeless?: boolean;
}

export interface ProgramSpec {
  /** Function symbol name. */
  name: string;
  /** ELF section, e.g. "xdp", "tc", "prog". */
  section: string;
  /** BPF_PROG_TYPE_* value, or null when the section does not say (e.g. iproute2's "prog"). */
  type: number | null;
  /** BPF_* attach type expected at load time, or null. */
  expectedAttachType: number | null;
  /** What the section names after its prefix: kprobe/<fn>, tracepoint/<cat>/<name>, … */
  attachTarget?: string;
  /**
   * false for libbpf's SEC("?…") programs (`section` is the name after the "?"):
   * load() leaves them out unless asked for by name (`programs`), as libbpf's
   * autoload does. Absent: loaded.
   */
  autoload?: boolean;
  /** Extra BPF_F_* prog flags (BPF_F_XDP_HAS_FRAGS for xdp.frags, BPF_F_SLEEPABLE for .s sections). */
  progFlags: number;
  /** Instructions of the function itself, in 8-byte slots (ld_imm64 counts two). */
  ownInstructionCount: number;
  /**
   * The instruction stream to load: the function followed by every subprogram
   * it reaches, bpf-to-bpf call offsets already fixed, in the object's own
   * byte order (`littleEndian` on the object says which).
   */
  instructions: Uint8Array;
  relocations: ProgramRelocation[];
  /** Func/line info and CO-RE relocations, re-based onto `instructions` (offsets in instructions). */
  funcInfo: FuncInfo[];
  lineInfo: LineInfo[];
  coreRelocations: CoreRelocation[];
  /** Byte offset of the function inside its section (symbol value). */
  sectionOffset: number;
  /** BTF id of the function's FUNC type, 0 without BTF. */
  btfFuncId: number;
}

export interface BpfObjectFile {
  /** Path or label used in error messages. */
  path: string;
  littleEndian: boolean;
  license: string | null;
  /** "version" section (legacy kprobe objects), or null. */
  kernelVersion: number | null;
  programs: ProgramSpec[];
  maps: MapSpec[];
  btf: Btf | null;
  btfExt: BtfExt | null;
  /** `btf.raw` with DATASEC sizes and offsets filled in from the ELF tables: what the kernel is given. */
  btfForKernel: Uint8Array | null;
  /** Undefined symbols to resolve in the kernel: kfuncs, .kconfig and __ksym variables. */
  externs: ExternSpec[];
  /** Things parsing accepted but the user should know (e.g. legacy map fields that are ignored). */
  warnings: string[];
  /** The initial bytes of the arena globals (`__arena`, section .addr_space.1), when the object has any. */
  arenaData?: Uint8Array;
}
