// enum bpf_link_type: what OBJ_GET_INFO_BY_FD reports for a link, and which
// member of bpf_link_info's union is valid.

export const BPF_LINK_TYPE = {
  UNSPEC: 0,
  RAW_TRACEPOINT: 1,
  TRACING: 2,
  CGROUP: 3,
  ITER: 4,
  NETNS: 5,
  XDP: 6,
  PERF_EVENT: 7,
  KPROBE_MULTI: 8,
  STRUCT_OPS: 9,
  NETFILTER: 10,
  TCX: 11,
  UPROBE_MULTI: 12,
  NETKIT: 13,
  SOCKMAP: 14,
} as const;

const NAMES = ['unspec', 'raw_tracepoint', 'tracing', 'cgroup', 'iter', 'netns', 'xdp', 'perf_event', 'kprobe_multi', 'struct_ops', 'netfilter', 'tcx', 'uprobe_multi', 'netkit', 'sockmap'] as const;

/** bpftool-style name ("tcx"); "type_99" when unknown. */
export function linkTypeName(type: number): string {
  return NAMES[type] ?? `type_${type}`;
}
