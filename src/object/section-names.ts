// Program type and expected attach type from an ELF section name.
// First libbpf's conventions (an exact name, or "name/…" / "name+suffix"
// where libbpf takes an attach target), then the looser prefixes of older
// loaders (samples/bpf's bpf_load.c, goebpf, iproute2), so that objects
// written for them still say what they are.

import { BPF_ATTACH_TYPE as A, BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS, BPF_PROG_TYPE as P } from '../uapi/bpf.js';

export interface SectionKind {
  type: number | null;
  expectedAttachType: number | null;
  progFlags: number;
  /** What follows the prefix, e.g. the function of kprobe/<fn>. */
  attachTarget?: string;
}

interface Rule {
  /** Section name, or prefix when `target` is set. */
  name: string;
  type: number;
  attach?: number;
  flags?: number;
  /** 'exact': only the name; 'slash': the name alone or "name/target"; 'required': "name/target" only. */
  match: 'exact' | 'slash' | 'required';
}

const S = BPF_F_SLEEPABLE;
const F = BPF_F_XDP_HAS_FRAGS;

// Order matters: longer, more specific names before their prefixes.
const RULES: Rule[] = [
  { name: 'socket', type: P.SOCKET_FILTER, match: 'slash' },
  { name: 'sk_reuseport/migrate', type: P.SK_REUSEPORT, attach: A.SK_REUSEPORT_SELECT_OR_MIGRATE, match: 'exact' },
  { name: 'sk_reuseport', type: P.SK_REUSEPORT, attach: A.SK_REUSEPORT_SELECT, match: 'exact' },
  { name: 'kprobe.multi', type: P.KPROBE, attach: A.TRACE_KPROBE_MULTI, match: 'slash' },
  { name: 'kretprobe.multi', type: P.KPROBE, attach: A.TRACE_KPROBE_MULTI, match: 'slash' },
  { name: 'kprobe.session', type: P.KPROBE, attach: A.TRACE_KPROBE_SESSION, match: 'slash' },
  { name: 'uprobe.multi', type: P.KPROBE, attach: A.TRACE_UPROBE_MULTI, match: 'slash' },
  { name: 'uretprobe.multi', type: P.KPROBE, attach: A.TRACE_UPROBE_MULTI, match: 'slash' },
  { name: 'uprobe.s', type: P.KPROBE, flags: S, match: 'slash' },
  { name: 'uretprobe.s', type: P.KPROBE, flags: S, match: 'slash' },
  { name: 'kprobe', type: P.KPROBE, match: 'slash' },
  { name: 'kretprobe', type: P.KPROBE, match: 'slash' },
  { name: 'uprobe', type: P.KPROBE, match: 'slash' },
  { name: 'uretprobe', type: P.KPROBE, match: 'slash' },
  { name: 'ksyscall', type: P.KPROBE, match: 'slash' },
  { name: 'kretsyscall', type: P.KPROBE, match: 'slash' },
  { name: 'usdt', type: P.KPROBE, match: 'slash' },
  { name: 'tc/ingress', type: P.SCHED_CLS, attach: A.TCX_INGRESS, match: 'exact' },
  { name: 'tc/egress', type: P.SCHED_CLS, attach: A.TCX_EGRESS, match: 'exact' },
  { name: 'tcx/ingress', type: P.SCHED_CLS, attach: A.TCX_INGRESS, match: 'exact' },
  { name: 'tcx/egress', type: P.SCHED_CLS, attach: A.TCX_EGRESS, match: 'exact' },
  { name: 'netkit/primary', type: P.SCHED_CLS, attach: A.NETKIT_PRIMARY, match: 'exact' },
  { name: 'netkit/peer', type: P.SCHED_CLS, attach: A.NETKIT_PEER, match: 'exact' },
  { name: 'tc', type: P.SCHED_CLS, match: 'slash' },
  { name: 'classifier', type: P.SCHED_CLS, match: 'slash' },
  { name: 'action', type: P.SCHED_ACT, match: 'slash' },
  { name: 'raw_tracepoint.w', type: P.RAW_TRACEPOINT_WRITABLE, match: 'slash' },
  { name: 'raw_tp.w', type: P.RAW_TRACEPOINT_WRITABLE, match: 'slash' },
  { name: 'raw_tracepoint', type: P.RAW_TRACEPOINT, match: 'slash' },
  { name: 'raw_tp', type: P.RAW_TRACEPOINT, match: 'slash' },
  { name: 'tracepoint', type: P.TRACEPOINT, match: 'slash' },
  { name: 'tp_btf', type: P.TRACING, attach: A.TRACE_RAW_TP, match: 'required' },
  { name: 'tp', type: P.TRACEPOINT, match: 'slash' },
  { name: 'fentry.s', type: P.TRACING, attach: A.TRACE_FENTRY, flags: S, match: 'required' },
  { name: 'fmod_ret.s', type: P.TRACING, attach: A.MODIFY_RETURN, flags: S, match: 'required' },
  { name: 'fexit.s', type: P.TRACING, attach: A.TRACE_FEXIT, flags: S, match: 'required' },
  { name: 'fentry', type: P.TRACING, attach: A.TRACE_FENTRY, match: 'required' },
  { name: 'fmod_ret', type: P.TRACING, attach: A.MODIFY_RETURN, match: 'required' },
  { name: 'fexit', type: P.TRACING, attach: A.TRACE_FEXIT, match: 'required' },
  { name: 'freplace', type: P.EXT, match: 'required' },
  { name: 'lsm.s', type: P.LSM, attach: A.LSM_MAC, flags: S, match: 'required' },
  { name: 'lsm_cgroup', type: P.LSM, attach: A.LSM_CGROUP, match: 'required' },
  { name: 'lsm', type: P.LSM, attach: A.LSM_MAC, match: 'required' },
  { name: 'iter.s', type: P.TRACING, attach: A.TRACE_ITER, flags: S, match: 'required' },
  { name: 'iter', type: P.TRACING, attach: A.TRACE_ITER, match: 'required' },
  { name: 'syscall', type: P.SYSCALL, flags: S, match: 'exact' },
  { name: 'xdp.frags/devmap', type: P.XDP, attach: A.XDP_DEVMAP, flags: F, match: 'exact' },
  { name: 'xdp/devmap', type: P.XDP, attach: A.XDP_DEVMAP, match: 'exact' },
  { name: 'xdp.frags/cpumap', type: P.XDP, attach: A.XDP_CPUMAP, flags: F, match: 'exact' },
  { name: 'xdp/cpumap', type: P.XDP, attach: A.XDP_CPUMAP, match: 'exact' },
  { name: 'xdp.frags', type: P.XDP, attach: A.XDP, flags: F, match: 'exact' },
  { name: 'xdp', type: P.XDP, attach: A.XDP, match: 'slash' },
  { name: 'perf_event', type: P.PERF_EVENT, match: 'exact' },
  { name: 'lwt_in', type: P.LWT_IN, match: 'exact' },
  { name: 'lwt_out', type: P.LWT_OUT, match: 'exact' },
  { name: 'lwt_xmit', type: P.LWT_XMIT, match: 'exact' },
  { name: 'lwt_seg6local', type: P.LWT_SEG6LOCAL, match: 'exact' },
  { name: 'sockops', type: P.SOCK_OPS, attach: A.CGROUP_SOCK_OPS, match: 'exact' },
  { name: 'sk_skb/stream_parser', type: P.SK_SKB, attach: A.SK_SKB_STREAM_PARSER, match: 'exact' },
  { name: 'sk_skb/stream_verdict', type: P.SK_SKB, attach: A.SK_SKB_STREAM_VERDICT, match: 'exact' },
  { name: 'sk_skb/verdict', type: P.SK_SKB, attach: A.SK_SKB_VERDICT, match: 'exact' },
  { name: 'sk_skb', type: P.SK_SKB, match: 'exact' },
  { name: 'sk_msg', type: P.SK_MSG, attach: A.SK_MSG_VERDICT, match: 'exact' },
  { name: 'lirc_mode2', type: P.LIRC_MODE2, attach: A.LIRC_MODE2, match: 'exact' },
  { name: 'flow_dissector', type: P.FLOW_DISSECTOR, attach: A.FLOW_DISSECTOR, match: 'exact' },
  { name: 'cgroup_skb/ingress', type: P.CGROUP_SKB, attach: A.CGROUP_INET_INGRESS, match: 'exact' },
  { name: 'cgroup_skb/egress', type: P.CGROUP_SKB, attach: A.CGROUP_INET_EGRESS, match: 'exact' },
  { name: 'cgroup/skb', type: P.CGROUP_SKB, match: 'exact' },
  { name: 'cgroup/sock_create', type: P.CGROUP_SOCK, attach: A.CGROUP_INET_SOCK_CREATE, match: 'exact' },
  { name: 'cgroup/sock_release', type: P.CGROUP_SOCK, attach: A.CGROUP_INET_SOCK_RELEASE, match: 'exact' },
  { name: 'cgroup/sock', type: P.CGROUP_SOCK, attach: A.CGROUP_INET_SOCK_CREATE, match: 'exact' },
  { name: 'cgroup/post_bind4', type: P.CGROUP_SOCK, attach: A.CGROUP_INET4_POST_BIND, match: 'exact' },
  { name: 'cgroup/post_bind6', type: P.CGROUP_SOCK, attach: A.CGROUP_INET6_POST_BIND, match: 'exact' },
  { name: 'cgroup/bind4', type: P.CGROUP_SOCK_ADDR, attach: A.CGROUP_INET4_BIND, match: 'exact' },
  { name: 'cgroup/bind6', type: P.CGROUP_SOCK_ADDR, attach: A.CGROUP_INET6_BIND, match: 'exact' },
  { name: 'cgroup/connect4', type: P.CGROUP_SOCK_ADDR, attach: A.CGROUP_INET4_CONNECT, match: 'exact' },
  { name: 'cgroup/connect6', type: P.CGROUP_SOCK_ADDR, attach: A.CGROUP_INET6_CONNECT, match: 'exact' },
  { name: 'cgroup/connect_unix', type: P.CGROUP_SOCK_ADDR, attach: A.CGROUP_UNIX_CONNECT, match: 'exact' },
  { name: 'cgroup/sendmsg4', type: P.CGROUP_SOCK_ADDR, attach: A.CGROUP_UDP4_SENDMSG, match: 'exact' },
  { name: 'cgroup/sendmsg6', type: P.CGROUP_SOCK_ADDR, attach: A.CGROUP_UDP6_SENDMSG, match: 'exact' },
  { name: 'cgroup/sendmsg_unix', type: P.CGROUP_SOCK_ADDR, attach: A.CGROUP_UNIX_SENDMSG, match: 'exact' },
  { name: 'cgroup/recvmsg4', type: P.CGROUP_SOCK_ADDR, attach: A.CGROUP_UDP4_RECVMSG, match: 'exact' },
  { name: 'cgroup/recvmsg6', type: P.CGROUP_SOCK_ADDR, attach: A.CGROUP_UDP6_RECVMSG, match: 'exact' },
  { name: 'cgroup/recvmsg_unix', type: P.CGROUP_SOCK_ADDR, attach: A.CGROUP_UNIX_RECVMSG, match: 'exact' },
  { name: 'cgroup/getpeername4', type: P.CGROUP_SOCK_ADDR, attach: A.CGROUP_INET4_GETPEERNAME, match: 'exact' },
  { name: 'cgroup/getpeername6', type: P.CGROUP_SOCK_ADDR, attach: A.CGROUP_INET6_GETPEERNAME, match: 'exact' },
  { name: 'cgroup/getsockname4', type: P.CGROUP_SOCK_ADDR, attach: A.CGROUP_INET4_GETSOCKNAME, match: 'exact' },
  { name: 'cgroup/getsockname6', type: P.CGROUP_SOCK_ADDR, attach: A.CGROUP_INET6_GETSOCKNAME, match: 'exact' },
  { name: 'cgroup/sysctl', type: P.CGROUP_SYSCTL, attach: A.CGROUP_SYSCTL, match: 'exact' },
  { name: 'cgroup/getsockopt', type: P.CGROUP_SOCKOPT, attach: A.CGROUP_GETSOCKOPT, match: 'exact' },
  { name: 'cgroup/setsockopt', type: P.CGROUP_SOCKOPT, attach: A.CGROUP_SETSOCKOPT, match: 'exact' },
  { name: 'cgroup/dev', type: P.CGROUP_DEVICE, attach: A.CGROUP_DEVICE, match: 'exact' },
  { name: 'struct_ops.s', type: P.STRUCT_OPS, flags: S, match: 'slash' },
  { name: 'struct_ops', type: P.STRUCT_OPS, match: 'slash' },
  { name: 'sk_lookup', type: P.SK_LOOKUP, attach: A.SK_LOOKUP, match: 'exact' },
  { name: 'netfilter', type: P.NETFILTER, attach: A.NETFILTER, match: 'exact' },
];

// Older loaders matched plain prefixes (bpf_load.c: "xdp" for any "xdp…",
// "cgroup/sock…"), and iproute2 used "ingress"/"egress" for tc.
const LEGACY_PREFIXES: Rule[] = [
  { name: 'xdp', type: P.XDP, attach: A.XDP, match: 'exact' },
  { name: 'ingress', type: P.SCHED_CLS, match: 'exact' },
  { name: 'egress', type: P.SCHED_CLS, match: 'exact' },
  { name: 'classifier', type: P.SCHED_CLS, match: 'exact' },
  { name: 'socket', type: P.SOCKET_FILTER, match: 'exact' },
  { name: 'kprobe', type: P.KPROBE, match: 'exact' },
  { name: 'kretprobe', type: P.KPROBE, match: 'exact' },
  { name: 'tracepoint', type: P.TRACEPOINT, match: 'exact' },
  { name: 'raw_tracepoint', type: P.RAW_TRACEPOINT, match: 'exact' },
  { name: 'perf_event', type: P.PERF_EVENT, match: 'exact' },
  { name: 'cgroup/skb', type: P.CGROUP_SKB, match: 'exact' },
  { name: 'cgroup/sock', type: P.CGROUP_SOCK, attach: A.CGROUP_INET_SOCK_CREATE, match: 'exact' },
  { name: 'sockops', type: P.SOCK_OPS, attach: A.CGROUP_SOCK_OPS, match: 'exact' },
  { name: 'sk_skb', type: P.SK_SKB, match: 'exact' },
  { name: 'sk_msg', type: P.SK_MSG, attach: A.SK_MSG_VERDICT, match: 'exact' },
];

function kind(r: Rule, attachTarget?: string): SectionKind {
  const k: SectionKind = { type: r.type, expectedAttachType: r.attach ?? null, progFlags: r.flags ?? 0 };
  if (attachTarget) k.attachTarget = attachTarget;
  return k;
}

/** What a section name says about the programs in it. `prog` and unknown names say nothing (type null). */
export function sectionKind(section: string): SectionKind {
  for (const r of RULES) {
    if (section === r.name && r.match !== 'required') return kind(r);
    if (r.match !== 'exact' && section.startsWith(r.name + '/') && section.length > r.name.length + 1) {
      return kind(r, section.slice(r.name.length + 1));
    }
  }
  for (const r of LEGACY_PREFIXES) {
    if (section.startsWith(r.name)) {
      return kind(r);
    }
  }
  return { type: null, expectedAttachType: null, progFlags: 0 };
}
