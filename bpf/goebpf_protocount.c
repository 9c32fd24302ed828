// goebpf_protocount.c - counts IPv4 packets per IP protocol, goebpf style.
//
// goebpf (github.com/dropbox/goebpf) extends the legacy bpf_map_def with a
// pinning field and a 256-byte namespace, so its "maps" entries are 280
// bytes rather than 20.  A loader must derive the per-map record size from
// the symbol sizes instead of assuming libbpf's layout.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define BUF_SIZE_MAP_NS 256

struct bpf_map_def {
	__u32 map_type;
	__u32 key_size;
	__u32 value_size;
	__u32 max_entries;
	__u32 map_flags;
	__u32 pinning;
	char namespace[BUF_SIZE_MAP_NS];
};

// Per-CPU so the hot path needs no atomics; userspace sums the CPUs.
// Index = IPv4 protocol number (1 = ICMP, 6 = TCP, 17 = UDP, ...).
struct bpf_map_def SEC("maps") protocols = {
	.map_type    = BPF_MAP_TYPE_PERCPU_ARRAY,
	.key_size    = sizeof(__u32),
	.value_size  = sizeof(__u64),
	.max_entries = 255,
};

SEC("xdp")
int packet_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = data + sizeof(*eth);

	// One check covers both headers; the verifier needs it before any read.
	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;

	__u32 key = iph->protocol;
	__u64 *count = bpf_map_lookup_elem(&protocols, &key);
	if (count)
		*count += 1;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
