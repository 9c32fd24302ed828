// perf_ifindex.c - one perf event per packet, without touching packet data.
//
// Emits {ingress_ifindex, rx_queue_index} through a BTF-defined
// PERF_EVENT_ARRAY for every frame and passes it. It reads only scalar
// xdp_md fields (no packet pointer arithmetic), so the verifier accepts it
// with CAP_BPF + CAP_NET_ADMIN alone: a process without CAP_PERFMON can load
// and attach it, and only its perf_event_open() fails — which is how the CLI
// tests make an event set-up fail after the program is attached.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct event {
	__u32 ifindex;
	__u32 rx_queue;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} pkt_events SEC(".maps");

SEC("xdp")
int xdp_perf_ifindex(struct xdp_md *ctx)
{
	struct event ev = {
		.ifindex  = ctx->ingress_ifindex,
		.rx_queue = ctx->rx_queue_index,
	};

	bpf_perf_event_output(ctx, &pkt_events, BPF_F_CURRENT_CPU, &ev, sizeof(ev));
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
