// lpm_blocklist.c - drop IPv4 sources matching a longest-prefix-match trie.
//
// BTF-defined maps (.maps): the loader learns key/value types from BTF.
// LPM tries must be created with BPF_F_NO_PREALLOC, and their key must start
// with a __u32 prefix length followed by the address bytes.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct ipv4_lpm_key {
	__u32 prefixlen;  // significant bits of addr, 0..32
	__u32 addr;       // network byte order, as in the IP header
};

// Value: number of packets that matched this prefix.
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ipv4_lpm_key);
	__type(value, __u64);
} blocklist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

SEC("xdp")
int xdp_blocklist(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);

	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;

	// Look up the full /32; the trie returns the longest stored prefix
	// that covers it.
	struct ipv4_lpm_key key = { .prefixlen = 32, .addr = iph->saddr };
	__u64 *hits = bpf_map_lookup_elem(&blocklist, &key);
	if (!hits)
		return XDP_PASS;

	// Shared across CPUs, hence atomic; drops is per-CPU so needs none.
	__sync_fetch_and_add(hits, 1);
	__u32 zero = 0;
	__u64 *cnt = bpf_map_lookup_elem(&drops, &zero);
	if (cnt)
		*cnt += 1;
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
