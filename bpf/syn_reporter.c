// syn_reporter.c - reports TCP SYNs to userspace through a perf event array.
//
// The map is a legacy "maps" entry with max_entries 0: a PERF_EVENT_ARRAY
// needs one slot per CPU, and 0 tells the loader to fill in the CPU count.
// The upper 32 bits of the perf_event_output flags ask the kernel to append
// that many bytes of the packet after `meta`.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// libbpf 1.x dropped this struct from bpf_helpers.h, so declare it here.
struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") syn_events = {
	.type        = BPF_MAP_TYPE_PERF_EVENT_ARRAY,
	.key_size    = sizeof(__u32),
	.value_size  = sizeof(__u32),
	.max_entries = 0,
};

// Addresses and ports stay in network byte order (copied straight from the
// headers); pkt_len is host order.  16 bytes, no padding.
struct syn_meta {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u32 pkt_len;
};

SEC("xdp")
int xdp_syn(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);

	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || iph->protocol != IPPROTO_TCP)
		return XDP_PASS;
	if (iph->ihl < 5)
		return XDP_PASS;

	struct tcphdr *tcp = (void *)iph + iph->ihl * 4;
	if ((void *)(tcp + 1) > data_end)
		return XDP_PASS;
	// A connection attempt: SYN without ACK (SYN+ACK is the reply).
	if (!tcp->syn || tcp->ack)
		return XDP_PASS;

	__u64 pkt_len = data_end - data;
	struct syn_meta meta = {
		.saddr   = iph->saddr,
		.daddr   = iph->daddr,
		.sport   = tcp->source,
		.dport   = tcp->dest,
		.pkt_len = pkt_len,
	};

	bpf_perf_event_output(ctx, &syn_events,
			      BPF_F_CURRENT_CPU | (pkt_len << 32),
			      &meta, sizeof(meta));
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
