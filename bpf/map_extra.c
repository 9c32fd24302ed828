// map_extra.c - map attributes beyond __uint(): map_extra through __uint()
// (a bloom filter's hash count) and through __ulong() (an arena's user-space
// start address, a 64-bit value that __uint()'s array-size encoding cannot
// carry), plus an arena map. xdp_bloom pushes the frame length into the
// bloom filter and answers XDP_DROP when a length was seen before.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

// libbpf 1.4's bpf_helpers.h spelling, for older headers: an enumerator carries the value.
#ifndef __ulong
#define __ulong(name, val) enum { ___bpf_concat(__unique_value, __COUNTER__) = val } *name
#endif
#define MAP_TYPE_BLOOM_FILTER 30
#define MAP_TYPE_ARENA 33

struct {
	__uint(type, MAP_TYPE_BLOOM_FILTER);
	__type(value, __u32);
	__uint(max_entries, 64);
	__uint(map_extra, 3); /* number of hash functions */
} seen_lengths SEC(".maps");

struct {
	__uint(type, MAP_TYPE_ARENA);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 4); /* pages */
	__ulong(map_extra, 1ull << 44); /* user_vm_start */
} arena SEC(".maps");

SEC("xdp")
int xdp_bloom(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;

	if (bpf_map_peek_elem(&seen_lengths, &len) == 0)
		return XDP_DROP;
	bpf_map_push_elem(&seen_lengths, &len, 0);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
