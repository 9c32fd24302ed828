// legacy_extra.c - "maps"-section definitions with fields beyond the five
// every loader knows: a 24-byte struct whose sixth field is set (bpf-ts
// ignores it and warns), a 28-byte samples/bpf definition whose
// inner_map_idx is set (ignored, warned), and a 24-byte one whose extra
// field is zero (no warning). Loads as plain arrays.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct def24 { __u32 type, key_size, value_size, max_entries, map_flags, extra; };
struct def28 { __u32 type, key_size, value_size, max_entries, map_flags, inner_map_idx, numa_node; };

struct def24 extra_set SEC("maps") = { BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0, 0xabcd };
struct def28 inner_idx_set SEC("maps") = { BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0, 1, 0 };
struct def24 extra_zero SEC("maps") = { BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0, 0 };

SEC("xdp")
int xdp_touch(struct xdp_md *ctx)
{
	__u32 k = 0;
	__u64 *a = bpf_map_lookup_elem(&extra_set, &k);
	__u64 *b = bpf_map_lookup_elem(&inner_idx_set, &k);
	__u64 *c = bpf_map_lookup_elem(&extra_zero, &k);

	if (a) *a += 1;
	if (b) *b += 1;
	if (c) *c += 1;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
