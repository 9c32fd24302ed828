// icmp_even_drop.c - the demo program: drop every ICMP echo request whose
// sequence number is even, pass the odd ones, and count both.
//
// `ping` increments the sequence per request, so roughly every other ping
// gets lost - easy to see by eye and easy to assert in a test.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// <linux/icmp.h> drags in libc's <sys/socket.h> (32-bit stubs on a BPF
// target), so declare the only ICMP bits we need.
#define ICMP_ECHO 8

struct icmp_echo {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 id;
	__be16 sequence;
};

enum { CNT_PASSED = 0, CNT_DROPPED = 1 };

// Per-CPU: no atomics needed, userspace sums across CPUs.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void bump(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += 1;
}

SEC("xdp")
int xdp_even_drop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);

	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || iph->protocol != IPPROTO_ICMP)
		return XDP_PASS;

	// Honour IP options: the ICMP header starts after ihl 32-bit words.
	if (iph->ihl < 5)
		return XDP_PASS;
	struct icmp_echo *icmp = (void *)iph + iph->ihl * 4;
	if ((void *)(icmp + 1) > data_end)
		return XDP_PASS;
	if (icmp->type != ICMP_ECHO)
		return XDP_PASS;

	// The sequence is big-endian on the wire; parity needs host order.
	__u16 seq = bpf_ntohs(icmp->sequence);
	if ((seq & 1) == 0) {
		bump(CNT_DROPPED);
		return XDP_DROP;
	}
	bump(CNT_PASSED);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
