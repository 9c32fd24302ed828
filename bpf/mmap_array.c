// mmap_array.c - a user array map declared BPF_F_MMAPABLE, for map.view():
// user space reads and writes its values through mmap, no syscall per access.
//
// Behaviour (for BPF_PROG_TEST_RUN): counters[0] += counters[1] (or += 1 when
// counters[1] is 0), so a test can see the program's write through the view
// and the program's use of a value written through the view.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

SEC("xdp")
int xdp_mmap_count(struct xdp_md *ctx)
{
	__u32 total = 0, step = 1;
	__u64 *t = bpf_map_lookup_elem(&counters, &total);
	__u64 *s = bpf_map_lookup_elem(&counters, &step);

	if (!t || !s)
		return XDP_ABORTED;
	__sync_fetch_and_add(t, *s ? *s : 1);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
