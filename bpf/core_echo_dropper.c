// core_echo_dropper.c - drop ICMP echo *replies*, parsing headers through
// vmlinux.h types.
//
// vmlinux.h wraps every struct in preserve_access_index, so each header
// field access below becomes a CO-RE field-offset relocation in .BTF.ext
// (visible with `llvm-objdump -d -r` / bpftool).  Packet header layouts never
// change, so relocation always resolves to the compiled offsets; the point
// is to make a loader process CO-RE relocations on an everyday program.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

// Macros are not part of BTF, so vmlinux.h has none of these.
#define ETH_P_IP        0x0800
#define ICMP_ECHOREPLY  0

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} reply_drops SEC(".maps");

SEC("xdp")
int xdp_drop_echo_reply(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);

	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP) ||
	    iph->protocol != IPPROTO_ICMP)
		return XDP_PASS;

	struct icmphdr *icmp = (void *)(iph + 1);
	if (iph->ihl != 5)  // IP options: not worth parsing in a fixture
		return XDP_PASS;
	if ((void *)(icmp + 1) > data_end)
		return XDP_PASS;
	if (icmp->type != ICMP_ECHOREPLY)
		return XDP_PASS;

	__u32 zero = 0;
	__u64 *cnt = bpf_map_lookup_elem(&reply_drops, &zero);
	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
