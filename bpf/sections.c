// sections.c - one trivial program per section-name convention, for testing
// program-type / attach-type inference from ELF section names (libbpf's
// section_defs table).  Compile-only: several of these need attach targets
// or expected_attach_type values that a plain load-all would not supply.
//
// Program names are the section name with '/', '.' -> '_' and a "prog_"
// prefix.  Bodies return 1 where 1 means "allow/pass" for the type (cgroup
// hooks), 0 otherwise; nothing here is meant to run.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define TRIVIAL(sec, name, ret) \
	SEC(sec) int name(void *ctx) { return ret; }

// XDP: plain, multi-buffer (BPF_F_XDP_HAS_FRAGS), devmap egress attach type
TRIVIAL("xdp.frags",               prog_xdp_frags,                  XDP_PASS)
TRIVIAL("xdp/devmap",              prog_xdp_devmap,                 XDP_PASS)
// A section libbpf does not know: type must come from the caller
TRIVIAL("xdp_custom_name",         prog_xdp_custom_name,            XDP_PASS)

// tc: SCHED_CLS under its old and new names, plus tcx attach type
TRIVIAL("tc",                      prog_tc,                         0)
TRIVIAL("classifier",              prog_classifier,                 0)
TRIVIAL("tcx/ingress",             prog_tcx_ingress,                0)

TRIVIAL("socket",                  prog_socket,                     0)

// cgroup: generic skb (no attach type), explicit egress, sock_addr connect4
TRIVIAL("cgroup/skb",              prog_cgroup_skb,                 1)
TRIVIAL("cgroup_skb/egress",       prog_cgroup_skb_egress,          1)
TRIVIAL("cgroup/connect4",         prog_cgroup_connect4,            1)

// tracing family: kprobe type for both; tracepoint; raw tracepoint
TRIVIAL("kprobe/do_unlinkat",      prog_kprobe_do_unlinkat,         0)
TRIVIAL("kretprobe/do_unlinkat",   prog_kretprobe_do_unlinkat,      0)
TRIVIAL("tracepoint/syscalls/sys_enter_openat",
	prog_tracepoint_syscalls_sys_enter_openat, 0)
TRIVIAL("raw_tracepoint/sys_enter", prog_raw_tracepoint_sys_enter,  0)
// BTF-based tracing: TRACING type, attach_btf_id from the name after '/'
TRIVIAL("fentry/do_unlinkat",      prog_fentry_do_unlinkat,         0)

// sockmap / sockops family
TRIVIAL("sk_skb/stream_verdict",   prog_sk_skb_stream_verdict,      SK_PASS)
TRIVIAL("sockops",                 prog_sockops,                    0)
TRIVIAL("sk_msg",                  prog_sk_msg,                     SK_PASS)

TRIVIAL("perf_event",              prog_perf_event,                 0)
TRIVIAL("lwt_in",                  prog_lwt_in,                     BPF_OK)
TRIVIAL("flow_dissector",          prog_flow_dissector,             BPF_OK)
// BPF_PROG_TYPE_SYSCALL: sleepable, run only via BPF_PROG_TEST_RUN
TRIVIAL("syscall",                 prog_syscall,                    0)

char _license[] SEC("license") = "GPL";
