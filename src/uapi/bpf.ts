// Numbers from the kernel UAPI (include/uapi/linux/bpf.h), with bpftool's
// spellings as names. Values are ABI: they never change once released, so a
// table newer than the build machine's headers is safe.

/** enum bpf_map_type, indexed by value; names as bpftool prints them. */
export const MAP_TYPE_NAMES = [
  'unspec',
  'hash',
  'array',
  'prog_array',
  'perf_event_array',
  'percpu_hash',
  'percpu_array',
  'stack_trace',
  'cgroup_array',
  'lru_hash',
  'lru_percpu_hash',
  'lpm_trie',
  'array_of_maps',
  'hash_of_maps',
  'devmap',
  'sockmap',
  'cpumap',
  'xskmap',
  'sockhash',
  'cgroup_storage',
  'reuseport_sockarray',
  'percpu_cgroup_storage',
  'queue',
  'stack',
  'sk_storage',
  'devmap_hash',
  'struct_ops',
  'ringbuf',
  'inode_storage',
  'task_storage',
  'bloom_filter',
  'user_ringbuf',
  'cgrp_storage',
  'arena',
] as const;

export type MapTypeName = (typeof MAP_TYPE_NAMES)[number];

export const BPF_MAP_TYPE = {
  UNSPEC: 0,
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  STACK_TRACE: 7,
  CGROUP_ARRAY: 8,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11,
  ARRAY_OF_MAPS: 12,
  HASH_OF_MAPS: 13,
  DEVMAP: 14,
  SOCKMAP: 15,
  CPUMAP: 16,
  XSKMAP: 17,
  SOCKHASH: 18,
  CGROUP_STORAGE: 19,
  REUSEPORT_SOCKARRAY: 20,
  PERCPU_CGROUP_STORAGE: 21,
  QUEUE: 22,
  STACK: 23,
  SK_STORAGE: 24,
  DEVMAP_HASH: 25,
  STRUCT_OPS: 26,
  RINGBUF: 27,
  INODE_STORAGE: 28,
  TASK_STORAGE: 29,
  BLOOM_FILTER: 30,
  USER_RINGBUF: 31,
  CGRP_STORAGE: 32,
  ARENA: 33,
} as const;

/** enum bpf_prog_type, indexed by value; names as bpftool prints them. */
export const PROG_TYPE_NAMES = [
  'unspec',
  'socket_filter',
  'kprobe',
  'sched_cls',
  'sched_act',
  'tracepoint',
  'xdp',
  'perf_event',
  'cgroup_skb',
  'cgroup_sock',
  'lwt_in',
  'lwt_out',
  'lwt_xmit',
  'sock_ops',
  'sk_skb',
  'cgroup_device',
  'sk_msg',
  'raw_tracepoint',
  'cgroup_sock_addr',
  'lwt_seg6local',
  'lirc_mode2',
  'sk_reuseport',
  'flow_dissector',
  'cgroup_sysctl',
  'raw_tracepoint_writable',
  'cgroup_sockopt',
  'tracing',
  'struct_ops',
  'ext',
  'lsm',
  'sk_lookup',
  'syscall',
  'netfilter',
] as const;

export type ProgTypeName = (typeof PROG_TYPE_NAMES)[number];

export const BPF_PROG_TYPE = {
  UNSPEC: 0,
  SOCKET_FILTER: 1,
  KPROBE: 2,
  SCHED_CLS: 3,
  SCHED_ACT: 4,
  TRACEPOINT: 5,
  XDP: 6,
  PERF_EVENT: 7,
  CGROUP_SKB: 8,
  CGROUP_SOCK: 9,
  LWT_IN: 10,
  LWT_OUT: 11,
  LWT_XMIT: 12,
  SOCK_OPS: 13,
  SK_SKB: 14,
  CGROUP_DEVICE: 15,
  SK_MSG: 16,
  RAW_TRACEPOINT: 17,
  CGROUP_SOCK_ADDR: 18,
  LWT_SEG6LOCAL: 19,
  LIRC_MODE2: 20,
  SK_REUSEPORT: 21,
  FLOW_DISSECTOR: 22,
  CGROUP_SYSCTL: 23,
  RAW_TRACEPOINT_WRITABLE: 24,
  CGROUP_SOCKOPT: 25,
  TRACING: 26,
  STRUCT_OPS: 27,
  EXT: 28,
  LSM: 29,
  SK_LOOKUP: 30,
  SYSCALL: 31,
  NETFILTER: 32,
} as const;

/** enum bpf_attach_type. */
export const BPF_ATTACH_TYPE = {
  CGROUP_INET_INGRESS: 0,
  CGROUP_INET_EGRESS: 1,
  CGROUP_INET_SOCK_CREATE: 2,
  CGROUP_SOCK_OPS: 3,
  SK_SKB_STREAM_PARSER: 4,
  SK_SKB_STREAM_VERDICT: 5,
  CGROUP_DEVICE: 6,
  SK_MSG_VERDICT: 7,
  CGROUP_INET4_BIND: 8,
  CGROUP_INET6_BIND: 9,
  CGROUP_INET4_CONNECT: 10,
  CGROUP_INET6_CONNECT: 11,
  CGROUP_INET4_POST_BIND: 12,
  CGROUP_INET6_POST_BIND: 13,
  CGROUP_UDP4_SENDMSG: 14,
  CGROUP_UDP6_SENDMSG: 15,
  LIRC_MODE2: 16,
  FLOW_DISSECTOR: 17,
  CGROUP_SYSCTL: 18,
  CGROUP_UDP4_RECVMSG: 19,
  CGROUP_UDP6_RECVMSG: 20,
  CGROUP_GETSOCKOPT: 21,
  CGROUP_SETSOCKOPT: 22,
  TRACE_RAW_TP: 23,
  TRACE_FENTRY: 24,
  TRACE_FEXIT: 25,
  MODIFY_RETURN: 26,
  LSM_MAC: 27,
  TRACE_ITER: 28,
  CGROUP_INET4_GETPEERNAME: 29,
  CGROUP_INET6_GETPEERNAME: 30,
  CGROUP_INET4_GETSOCKNAME: 31,
  CGROUP_INET6_GETSOCKNAME: 32,
  XDP_DEVMAP: 33,
  CGROUP_INET_SOCK_RELEASE: 34,
  XDP_CPUMAP: 35,
  SK_LOOKUP: 36,
  XDP: 37,
  SK_SKB_VERDICT: 38,
  SK_REUSEPORT_SELECT: 39,
  SK_REUSEPORT_SELECT_OR_MIGRATE: 40,
  PERF_EVENT: 41,
  TRACE_KPROBE_MULTI: 42,
  LSM_CGROUP: 43,
  STRUCT_OPS: 44,
  NETFILTER: 45,
  TCX_INGRESS: 46,
  TCX_EGRESS: 47,
  TRACE_UPROBE_MULTI: 48,
  CGROUP_UNIX_CONNECT: 49,
  CGROUP_UNIX_SENDMSG: 50,
  CGROUP_UNIX_RECVMSG: 51,
  CGROUP_UNIX_GETPEERNAME: 52,
  CGROUP_UNIX_GETSOCKNAME: 53,
  NETKIT_PRIMARY: 54,
  NETKIT_PEER: 55,
  TRACE_KPROBE_SESSION: 56,
  TRACE_UPROBE_SESSION: 57,
  // Newer than Linux 6.18 (libbpf's UAPI copy): kernels without them refuse the value.
  TRACE_FSESSION: 58,
  TRACE_FENTRY_MULTI: 59,
  TRACE_FEXIT_MULTI: 60,
  TRACE_FSESSION_MULTI: 61,
} as const;

/** Flags of BPF_PROG_LOAD (prog_flags). */
export const BPF_F_SLEEPABLE = 1 << 4;
export const BPF_F_XDP_HAS_FRAGS = 1 << 5;

/** Flags of BPF_MAP_CREATE (map_flags); BPF_F_RDONLY/WRONLY are also OBJ_GET's file_flags and GET_FD_BY_ID's open_flags. */
export const BPF_F_NO_PREALLOC = 1 << 0;
export const BPF_F_NO_COMMON_LRU = 1 << 1;
export const BPF_F_NUMA_NODE = 1 << 2;
export const BPF_F_RDONLY = 1 << 3;
export const BPF_F_WRONLY = 1 << 4;
export const BPF_F_STACK_BUILD_ID = 1 << 5;
export const BPF_F_ZERO_SEED = 1 << 6;
export const BPF_F_RDONLY_PROG = 1 << 7;
export const BPF_F_WRONLY_PROG = 1 << 8;
export const BPF_F_CLONE = 1 << 9;
export const BPF_F_MMAPABLE = 1 << 10;
export const BPF_F_PRESERVE_ELEMS = 1 << 11;
export const BPF_F_INNER_MAP = 1 << 12;

const MAP_FLAG_NAMES: [number, string][] = Object.entries({
  no_prealloc: BPF_F_NO_PREALLOC,
  no_common_lru: BPF_F_NO_COMMON_LRU,
  numa_node: BPF_F_NUMA_NODE,
  rdonly: BPF_F_RDONLY,
  wronly: BPF_F_WRONLY,
  stack_build_id: BPF_F_STACK_BUILD_ID,
  zero_seed: BPF_F_ZERO_SEED,
  rdonly_prog: BPF_F_RDONLY_PROG,
  wronly_prog: BPF_F_WRONLY_PROG,
  clone: BPF_F_CLONE,
  mmapable: BPF_F_MMAPABLE,
  preserve_elems: BPF_F_PRESERVE_ELEMS,
  inner_map: BPF_F_INNER_MAP,
}).map(([name, bit]) => [bit, name]);

/** A map's map_flags by name ("no_prealloc", "mmapable"…); bits without a name as 0x…. */
export function mapFlagNames(flags: number): string[] {
  const names = MAP_FLAG_NAMES.filter(([bit]) => flags & bit).map(([, name]) => name);
  const rest = MAP_FLAG_NAMES.reduce((f, [bit]) => f & ~bit, flags) >>> 0;
  return rest ? [...names, `0x${rest.toString(16)}`] : names;
}

export const mapTypeName = (t: number): string => MAP_TYPE_NAMES[t] ?? `type_${t}`;
export const progTypeName = (t: number): string => PROG_TYPE_NAMES[t] ?? `type_${t}`;

const ATTACH_TYPE_BY_VALUE = new Map<number, string>(Object.entries(BPF_ATTACH_TYPE).map(([k, v]) => [v, k.toLowerCase()]));
/** bpftool-style attach type name ("trace_fentry", "tcx_ingress"), "type_N" when unknown. */
export const attachTypeName = (t: number): string => ATTACH_TYPE_BY_VALUE.get(t) ?? `type_${t}`;

// Program return values by name: the kernel (test-run) and the emulator report them alike.
export const XDP_ACTIONS = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX', 'XDP_REDIRECT'] as const;
/** TC_ACT_* by value; -1 is TC_ACT_UNSPEC. */
const TC_ACTIONS: Record<number, string> = {
  [-1]: 'TC_ACT_UNSPEC',
  0: 'TC_ACT_OK',
  1: 'TC_ACT_RECLASSIFY',
  2: 'TC_ACT_SHOT',
  3: 'TC_ACT_PIPE',
  4: 'TC_ACT_STOLEN',
  5: 'TC_ACT_QUEUED',
  6: 'TC_ACT_REPEAT',
  7: 'TC_ACT_REDIRECT',
  8: 'TC_ACT_TRAP',
};

/** A flow dissector's results (enum bpf_ret_code): BPF_DROP hands the packet to the kernel's own dissector. */
const FLOW_DISSECTOR_RESULTS: Record<number, string> = { 0: 'BPF_OK', 2: 'BPF_DROP', 129: 'BPF_FLOW_DISSECTOR_CONTINUE' };

/** The name of a return value for a program type (XDP_DROP, TC_ACT_SHOT, …), or null. */
export function verdictName(type: number, retval: number): string | null {
  if (type === BPF_PROG_TYPE.XDP) return XDP_ACTIONS[retval] ?? null;
  if (type === BPF_PROG_TYPE.SCHED_CLS || type === BPF_PROG_TYPE.SCHED_ACT) return TC_ACTIONS[retval | 0] ?? null;
  if (type === BPF_PROG_TYPE.FLOW_DISSECTOR) return FLOW_DISSECTOR_RESULTS[retval] ?? null;
  if (type === BPF_PROG_TYPE.NETFILTER) return retval === 0 ? 'NF_DROP' : retval === 1 ? 'NF_ACCEPT' : null;
  if (type === BPF_PROG_TYPE.SK_LOOKUP) return retval === 0 ? 'SK_DROP' : retval === 1 ? 'SK_PASS' : null;
  return null;
}
