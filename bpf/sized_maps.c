// sized_maps.c - maps whose size the loader decides, as xdp-bench and
// xdp-monitor declare them: max_entries 0 until the user (or bpf-ts's
// --max-entries) sets it; and a perf event array declared with a struct
// value type and a fixed max_entries, which loaders fix up (u32 key and
// value, one slot per possible CPU). xdp_count counts frames per length
// into the loader-sized hash and emits one perf event per frame; xdp_other
// uses only the perf array.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct event {
	__u32 len;
	__u32 ifindex;
	__u64 seq;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 0); /* sized by the loader */
} len_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__type(key, int);
	__type(value, struct event); /* a mistake the kernel refuses: loaders use 4 */
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	__u64 one = 1, *v;
	struct event e = { .len = len, .ifindex = ctx->ingress_ifindex };

	v = bpf_map_lookup_elem(&len_counts, &len);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&len_counts, &len, &one, BPF_NOEXIST);
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &e, sizeof(e));
	return XDP_PASS;
}

SEC("xdp")
int xdp_other(struct xdp_md *ctx)
{
	struct event e = { .len = 1 };

	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &e, sizeof(e));
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
