// map_in_map.c - ARRAY_OF_MAPS with a BTF-described inner map and a
// declaratively initialised slot.
//
// `__array(values, struct inner_map_type)` tells the loader the inner map's
// shape (it needs an inner_map_fd template at outer-map creation time);
// `.values = { &inner_a }` emits a .maps relocation meaning "put inner_a's
// fd in slot 0".  inner_arr is a standalone map of the same type, usable as
// an explicit template or to swap into slot 1 from userspace.
//
// Test-run: xdp_mim increments outer[0][0] (i.e. inner_a[0]) and returns
// XDP_PASS; XDP_DROP if slot 0 is empty.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct inner_map_type {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
};

struct inner_map_type inner_arr SEC(".maps");
struct inner_map_type inner_a SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner_map_type);
} outer SEC(".maps") = {
	.values = { &inner_a },
};

SEC("xdp")
int xdp_mim(struct xdp_md *ctx)
{
	__u32 k = 0;
	void *inner = bpf_map_lookup_elem(&outer, &k);

	if (!inner)
		return XDP_DROP;

	__u32 *v = bpf_map_lookup_elem(inner, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
