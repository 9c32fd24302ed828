// flow_dissector.c - a flow dissector in BPF (BPF_PROG_TYPE_FLOW_DISSECTOR):
// attached to a network namespace, it replaces the kernel's C dissector for
// the packets of that namespace (RPS, hashing, tc flower). This one only
// counts the packets it is asked about and returns BPF_DROP, so the kernel
// falls back to its own dissector: attaching it changes nothing else.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} dissected SEC(".maps");

SEC("flow_dissector")
int count_dissect(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&dissected, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
	return BPF_DROP;
}

char _license[] SEC("license") = "GPL";
