// single_source_filter.c - samples/bpf-style source-address blocklist.
//
// Legacy 5-field bpf_map_def in "maps" (the layout libbpf < 1.0 and the old
// kernel samples used), and a free-form section name that matches no libbpf
// convention: the loader has to be told the program type (XDP).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
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

// Key: IPv4 source address exactly as on the wire (network byte order), so
// no byte swapping is needed on either side.  Value is unused (set to 1).
struct bpf_map_def SEC("maps") blocked_src = {
	.type        = BPF_MAP_TYPE_HASH,
	.key_size    = sizeof(__u32),
	.value_size  = sizeof(__u32),
	.max_entries = 64,
};

struct bpf_map_def SEC("maps") drop_count = {
	.type        = BPF_MAP_TYPE_PERCPU_ARRAY,
	.key_size    = sizeof(__u32),
	.value_size  = sizeof(__u64),
	.max_entries = 1,
};

SEC("xdp_ip_filter")
int xdp_filter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);

	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;

	__u32 saddr = iph->saddr;
	if (!bpf_map_lookup_elem(&blocked_src, &saddr))
		return XDP_PASS;

	__u32 zero = 0;
	__u64 *cnt = bpf_map_lookup_elem(&drop_count, &zero);
	if (cnt)
		*cnt += 1;
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
