// Program type and expected attach type from an ELF section name.
//
// Three tables, tried in order:
//  1. the names libbpf 1.x knows (its section_defs, up to the version named in
//     docs/object-model.md), matched as libbpf matches them: "name" exactly,
//     "name+" as "name" or "name/<target>", "name/" only with a target;
//  2. libbpf 0.x, which matched most names as plain prefixes ("xdp_foo" was
//     XDP) and knew "xdp_devmap/" / "xdp_cpumap/" before "xdp/devmap" existed;
//  3. the prefixes older loaders used (samples/bpf's bpf_load.c, goebpf,
//     iproute2's "ingress"/"egress"), so objects written for them still say
//     what they are.
// A name none of them knows has type null: the caller must choose one.

import { BPF_ATTACH_TYPE as A, BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS, BPF_PROG_TYPE as P } from '../uapi/bpf.js';

export interface SectionKind {
  type: number | null;
  expectedAttachType: number | null;
  progFlags: number;
  /** What follows the prefix, e.g. the function of kprobe/<fn>. */
  attachTarget?: string;
}

/** One row of a section-name table. */
export interface SectionDef {
  /** libbpf's spelling: "name" exact, "name+" name or name/target, "name/" name/target only; legacy rows: a prefix. */
  pattern: string;
  type: number;
  /** Expected attach type, or null when the loader passes 0. */
  attach: number | null;
  flags: number;
  /** Where the convention comes from. */
  origin: 'libbpf' | 'libbpf-0.x' | 'legacy';
}

const S = BPF_F_SLEEPABLE;
const F = BPF_F_XDP_HAS_FRAGS;

type Row = [pattern: string, type: number, attach: number | null, flags?: number];

// libbpf 1.x (libbpf.c section_defs), in its order. Facts, written out here.
const LIBBPF: Row[] = [
  ['socket', P.SOCKET_FILTER, null],
  ['sk_reuseport/migrate', P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE],
  ['sk_reuseport', P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT],
  ['kprobe+', P.KPROBE, null],
  ['uprobe+', P.KPROBE, null],
  ['uprobe.s+', P.KPROBE, null, S],
  ['kretprobe+', P.KPROBE, null],
  ['uretprobe+', P.KPROBE, null],
  ['uretprobe.s+', P.KPROBE, null, S],
  ['kprobe.multi+', P.KPROBE, A.TRACE_KPROBE_MULTI],
  ['kretprobe.multi+', P.KPROBE, A.TRACE_KPROBE_MULTI],
  ['kprobe.session+', P.KPROBE, A.TRACE_KPROBE_SESSION],
  ['uprobe.multi+', P.KPROBE, A.TRACE_UPROBE_MULTI],
  ['uretprobe.multi+', P.KPROBE, A.TRACE_UPROBE_MULTI],
  ['uprobe.session+', P.KPROBE, A.TRACE_UPROBE_SESSION],
  ['uprobe.multi.s+', P.KPROBE, A.TRACE_UPROBE_MULTI, S],
  ['uretprobe.multi.s+', P.KPROBE, A.TRACE_UPROBE_MULTI, S],
  ['uprobe.session.s+', P.KPROBE, A.TRACE_UPROBE_SESSION, S],
  ['ksyscall+', P.KPROBE, null],
  ['kretsyscall+', P.KPROBE, null],
  ['usdt+', P.KPROBE, null],
  ['usdt.s+', P.KPROBE, null, S],
  ['tc/ingress', P.SCHED_CLS, A.TCX_INGRESS],
  ['tc/egress', P.SCHED_CLS, A.TCX_EGRESS],
  ['tcx/ingress', P.SCHED_CLS, A.TCX_INGRESS],
  ['tcx/egress', P.SCHED_CLS, A.TCX_EGRESS],
  ['tc', P.SCHED_CLS, null],
  ['classifier', P.SCHED_CLS, null],
  ['action', P.SCHED_ACT, null],
  ['netkit/primary', P.SCHED_CLS, A.NETKIT_PRIMARY],
  ['netkit/peer', P.SCHED_CLS, A.NETKIT_PEER],
  ['tracepoint+', P.TRACEPOINT, null],
  ['tp+', P.TRACEPOINT, null],
  ['tracepoint.s+', P.TRACEPOINT, null, S],
  ['tp.s+', P.TRACEPOINT, null, S],
  ['raw_tracepoint+', P.RAW_TRACEPOINT, null],
  ['raw_tp+', P.RAW_TRACEPOINT, null],
  ['raw_tracepoint.s+', P.RAW_TRACEPOINT, null, S],
  ['raw_tp.s+', P.RAW_TRACEPOINT, null, S],
  ['raw_tracepoint.w+', P.RAW_TRACEPOINT_WRITABLE, null],
  ['raw_tp.w+', P.RAW_TRACEPOINT_WRITABLE, null],
  ['tp_btf+', P.TRACING, A.TRACE_RAW_TP],
  ['tp_btf.s+', P.TRACING, A.TRACE_RAW_TP, S],
  ['fentry+', P.TRACING, A.TRACE_FENTRY],
  ['fmod_ret+', P.TRACING, A.MODIFY_RETURN],
  ['fexit+', P.TRACING, A.TRACE_FEXIT],
  ['fentry.s+', P.TRACING, A.TRACE_FENTRY, S],
  ['fmod_ret.s+', P.TRACING, A.MODIFY_RETURN, S],
  ['fexit.s+', P.TRACING, A.TRACE_FEXIT, S],
  ['fsession+', P.TRACING, A.TRACE_FSESSION],
  ['fsession.s+', P.TRACING, A.TRACE_FSESSION, S],
  ['fsession.multi+', P.TRACING, A.TRACE_FSESSION_MULTI],
  ['fsession.multi.s+', P.TRACING, A.TRACE_FSESSION_MULTI, S],
  ['fentry.multi+', P.TRACING, A.TRACE_FENTRY_MULTI],
  ['fexit.multi+', P.TRACING, A.TRACE_FEXIT_MULTI],
  ['fentry.multi.s+', P.TRACING, A.TRACE_FENTRY_MULTI, S],
  ['fexit.multi.s+', P.TRACING, A.TRACE_FEXIT_MULTI, S],
  ['freplace+', P.EXT, null],
  ['lsm+', P.LSM, A.LSM_MAC],
  ['lsm.s+', P.LSM, A.LSM_MAC, S],
  ['lsm_cgroup+', P.LSM, A.LSM_CGROUP],
  ['iter+', P.TRACING, A.TRACE_ITER],
  ['iter.s+', P.TRACING, A.TRACE_ITER, S],
  ['syscall', P.SYSCALL, null, S],
  ['xdp.frags/devmap', P.XDP, A.XDP_DEVMAP, F],
  ['xdp/devmap', P.XDP, A.XDP_DEVMAP],
  ['xdp.frags/cpumap', P.XDP, A.XDP_CPUMAP, F],
  ['xdp/cpumap', P.XDP, A.XDP_CPUMAP],
  ['xdp.frags', P.XDP, A.XDP, F],
  ['xdp', P.XDP, A.XDP],
  ['perf_event', P.PERF_EVENT, null],
  ['lwt_in', P.LWT_IN, null],
  ['lwt_out', P.LWT_OUT, null],
  ['lwt_xmit', P.LWT_XMIT, null],
  ['lwt_seg6local', P.LWT_SEG6LOCAL, null],
  ['sockops', P.SOCK_OPS, A.CGROUP_SOCK_OPS],
  ['sk_skb/stream_parser', P.SK_SKB, A.SK_SKB_STREAM_PARSER],
  ['sk_skb/stream_verdict', P.SK_SKB, A.SK_SKB_STREAM_VERDICT],
  ['sk_skb/verdict', P.SK_SKB, A.SK_SKB_VERDICT],
  ['sk_skb', P.SK_SKB, null],
  ['sk_msg', P.SK_MSG, A.SK_MSG_VERDICT],
  ['lirc_mode2', P.LIRC_MODE2, A.LIRC_MODE2],
  ['flow_dissector', P.FLOW_DISSECTOR, A.FLOW_DISSECTOR],
  ['cgroup_skb/ingress', P.CGROUP_SKB, A.CGROUP_INET_INGRESS],
  ['cgroup_skb/egress', P.CGROUP_SKB, A.CGROUP_INET_EGRESS],
  ['cgroup/skb', P.CGROUP_SKB, null],
  ['cgroup/sock_create', P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE],
  ['cgroup/sock_release', P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE],
  ['cgroup/sock', P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE],
  ['cgroup/post_bind4', P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND],
  ['cgroup/post_bind6', P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND],
  ['cgroup/bind4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND],
  ['cgroup/bind6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_BIND],
  ['cgroup/connect4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT],
  ['cgroup/connect6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT],
  ['cgroup/connect_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_CONNECT],
  ['cgroup/sendmsg4', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG],
  ['cgroup/sendmsg6', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG],
  ['cgroup/sendmsg_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_SENDMSG],
  ['cgroup/recvmsg4', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG],
  ['cgroup/recvmsg6', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_RECVMSG],
  ['cgroup/recvmsg_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_RECVMSG],
  ['cgroup/getpeername4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME],
  ['cgroup/getpeername6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETPEERNAME],
  ['cgroup/getpeername_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETPEERNAME],
  ['cgroup/getsockname4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETSOCKNAME],
  ['cgroup/getsockname6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETSOCKNAME],
  ['cgroup/getsockname_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETSOCKNAME],
  ['cgroup/sysctl', P.CGROUP_SYSCTL, A.CGROUP_SYSCTL],
  ['cgroup/getsockopt', P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT],
  ['cgroup/setsockopt', P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT],
  ['cgroup/dev', P.CGROUP_DEVICE, A.CGROUP_DEVICE],
  ['struct_ops+', P.STRUCT_OPS, null],
  ['struct_ops.s+', P.STRUCT_OPS, null, S],
  ['sk_lookup', P.SK_LOOKUP, A.SK_LOOKUP],
  ['netfilter', P.NETFILTER, A.NETFILTER],
];

// libbpf 0.x (before LIBBPF_STRICT_SEC_NAME became the rule in 1.0): rows it
// matched as plain prefixes, in its order, and the "xdp_devmap/" /
// "xdp_cpumap/" names selftests still use. Only reached when the 1.x table
// did not match, so "sk_lookup/foo" or "xdp_redirect" land here.
const LIBBPF_0: Row[] = [
  ['socket', P.SOCKET_FILTER, null],
  ['sk_reuseport/migrate', P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE],
  ['sk_reuseport', P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT],
  ['classifier', P.SCHED_CLS, null],
  ['action', P.SCHED_ACT, null],
  ['xdp_devmap/', P.XDP, A.XDP_DEVMAP],
  ['xdp_cpumap/', P.XDP, A.XDP_CPUMAP],
  ['xdp', P.XDP, A.XDP],
  ['perf_event', P.PERF_EVENT, null],
  ['lwt_in', P.LWT_IN, null],
  ['lwt_out', P.LWT_OUT, null],
  ['lwt_xmit', P.LWT_XMIT, null],
  ['lwt_seg6local', P.LWT_SEG6LOCAL, null],
  ['cgroup_skb/ingress', P.CGROUP_SKB, A.CGROUP_INET_INGRESS],
  ['cgroup_skb/egress', P.CGROUP_SKB, A.CGROUP_INET_EGRESS],
  ['cgroup/skb', P.CGROUP_SKB, null],
  ['cgroup/sock_create', P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE],
  ['cgroup/sock_release', P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE],
  ['cgroup/sock', P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE],
  ['cgroup/post_bind4', P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND],
  ['cgroup/post_bind6', P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND],
  ['cgroup/dev', P.CGROUP_DEVICE, A.CGROUP_DEVICE],
  ['sockops', P.SOCK_OPS, A.CGROUP_SOCK_OPS],
  ['sk_skb/stream_parser', P.SK_SKB, A.SK_SKB_STREAM_PARSER],
  ['sk_skb/stream_verdict', P.SK_SKB, A.SK_SKB_STREAM_VERDICT],
  ['sk_skb', P.SK_SKB, null],
  ['sk_msg', P.SK_MSG, A.SK_MSG_VERDICT],
  ['lirc_mode2', P.LIRC_MODE2, A.LIRC_MODE2],
  ['flow_dissector', P.FLOW_DISSECTOR, A.FLOW_DISSECTOR],
  ['cgroup/bind4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND],
  ['cgroup/bind6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_BIND],
  ['cgroup/connect4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT],
  ['cgroup/connect6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT],
  ['cgroup/sendmsg4', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG],
  ['cgroup/sendmsg6', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG],
  ['cgroup/recvmsg4', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG],
  ['cgroup/recvmsg6', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_RECVMSG],
  ['cgroup/getpeername4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME],
  ['cgroup/getpeername6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETPEERNAME],
  ['cgroup/getsockname4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETSOCKNAME],
  ['cgroup/getsockname6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETSOCKNAME],
  ['cgroup/sysctl', P.CGROUP_SYSCTL, A.CGROUP_SYSCTL],
  ['cgroup/getsockopt', P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT],
  ['cgroup/setsockopt', P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT],
  ['sk_lookup', P.SK_LOOKUP, A.SK_LOOKUP],
];

// Older loaders: bpf_load.c and goebpf matched these prefixes; iproute2's tc
// used "ingress"/"egress" and any "tc…" name for classifiers.
const LEGACY: Row[] = [
  ['ingress', P.SCHED_CLS, null],
  ['egress', P.SCHED_CLS, null],
  ['tc', P.SCHED_CLS, null],
  ['kprobe', P.KPROBE, null],
  ['kretprobe', P.KPROBE, null],
  ['tracepoint', P.TRACEPOINT, null],
  ['raw_tracepoint', P.RAW_TRACEPOINT, null],
];

function toDefs(rows: Row[], origin: SectionDef['origin']): SectionDef[] {
  return rows.map(([pattern, type, attach, flags]) => ({ pattern, type, attach, flags: flags ?? 0, origin }));
}

/** Every section name bpf-ts recognises, in the order they are tried. */
export const SECTION_DEFS: readonly SectionDef[] = Object.freeze([...toDefs(LIBBPF, 'libbpf'), ...toDefs(LIBBPF_0, 'libbpf-0.x'), ...toDefs(LEGACY, 'legacy')]);

/** libbpf's matching: null when `d` does not match, else the target after "name/" ('' for none). */
function match(d: SectionDef, section: string): string | null {
  const p = d.pattern;
  if (d.origin !== 'libbpf' && !p.endsWith('/')) return section.startsWith(p) ? '' : null;
  if (p.endsWith('/')) return section.startsWith(p) && section.length > p.length ? section.slice(p.length) : null;
  if (p.endsWith('+')) {
    const name = p.slice(0, -1);
    if (section === name) return '';
    return section.startsWith(name + '/') ? section.slice(name.length + 1) : null;
  }
  return section === p ? '' : null;
}

/** The table row a section name matches, or null. */
export function sectionDef(section: string): SectionDef | null {
  for (const d of SECTION_DEFS) if (match(d, section) !== null) return d;
  return null;
}

/** What a section name says about the programs in it. `prog` and unknown names say nothing (type null). */
export function sectionKind(section: string): SectionKind {
  for (const d of SECTION_DEFS) {
    const target = match(d, section);
    if (target === null) continue;
    const k: SectionKind = { type: d.type, expectedAttachType: d.attach, progFlags: d.flags };
    if (target) k.attachTarget = target;
    return k;
  }
  return { type: null, expectedAttachType: null, progFlags: 0 };
}

/** Program types whose load needs attach_btf_id (libbpf's SEC_ATTACH_BTF): the target is a kernel function/type. */
export function needsAttachBtf(type: number | null): boolean {
  return type === P.TRACING || type === P.LSM || type === P.EXT;
}
