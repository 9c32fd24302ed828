// for_each.c - bpf_for_each_map_elem over an array, a per-CPU array and a
// hash map.
//
// The callbacks change every value they visit and fold keys and values into
// their context. The array walk folds in order (an array's order is its
// indices in the kernel too) and stops at the index .rodata's stop_at names;
// the hash walk's fold is a sum, as a hash map's order is its buckets', which
// the kernel seeds at random per map. A walk with flags set is -EINVAL.
//
// BPF_PROG_TEST_RUN returns a fold of the walks' counts and sums; the maps'
// contents afterwards show each value changed once per visit.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} pcpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} tbl SEC(".maps");

const volatile __u32 stop_at = 5;

struct acc {
	__u64 sum;
	__u64 visits;
};

// Array walk: value += 1; sum = sum * 31 + key + value; stop (1) at stop_at.
static long in_order(void *map, __u32 *key, __u64 *val, struct acc *a)
{
	*val += 1;
	a->sum = a->sum * 31 + *key + *val;
	a->visits++;
	return *key == stop_at;
}

// Hash walk: value += key + 1; sum += key ^ value, whatever the order.
static long any_order(void *map, __u32 *key, __u64 *val, struct acc *a)
{
	*val += *key + 1;
	a->sum += *key ^ *val;
	a->visits++;
	return 0;
}

SEC("xdp")
int walk(struct xdp_md *ctx)
{
	struct acc a = {}, p = {}, h = {};
	long n = bpf_for_each_map_elem(&arr, in_order, &a, 0);
	long np = bpf_for_each_map_elem(&pcpu, in_order, &p, 0);
	long nh = bpf_for_each_map_elem(&tbl, any_order, &h, 0);
	long bad = bpf_for_each_map_elem(&arr, in_order, &a, 1);

	return (__u32)(a.sum * 7 + p.sum * 5 + h.sum * 3 + a.visits + (n << 4) + (np << 8) + (nh << 12) + (p.visits << 16) + (h.visits << 20) + (bad << 24));
}

// bpf_map_lookup_percpu_elem: pcpu[1] on CPUs 0-3 (NULL for one the host
// lacks: + 1000) folded, and + 5 when a key past max_entries is NULL.
SEC("xdp")
int percpu_read(struct xdp_md *ctx)
{
	__u32 key = 1;
	__u64 sum = 0;

	for (__u32 cpu = 0; cpu < 4; cpu++) {
		__u64 *v = bpf_map_lookup_percpu_elem(&pcpu, &key, cpu);

		sum = v ? sum * 7 + *v : sum + 1000;
	}
	key = 9;
	if (!bpf_map_lookup_percpu_elem(&pcpu, &key, 0))
		sum += 5;
	return (__u32)sum;
}

char _license[] SEC("license") = "GPL";
