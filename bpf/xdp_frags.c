// xdp_frags.c - a multi-buffer XDP program (SEC("xdp.frags"): loaded with
// BPF_F_XDP_HAS_FRAGS). A frame longer than the 3,520 bytes of a test run's
// buffer keeps the rest in fragments of a page, which the program reaches
// only through helpers:
//
//   every run:  stats.frames++, stats.bytes += bpf_xdp_get_buff_len();
//               stats.linear = data_end - data; stats.tail = the frame's
//               last 8 bytes (bpf_xdp_load_bytes, wherever they are);
//               the last 4 bytes become the length, big-endian
//               (bpf_xdp_store_bytes); one perf event: the stats record,
//               then the first `report` bytes of the frame (the flags'
//               length: fragments included), or all of it when shorter;
//   trim_to:    when set and shorter than the frame, bpf_xdp_adjust_tail
//               cuts it to that length (from the fragments first);
//   XDP_PASS, or XDP_DROP when the trim fails.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct stats {
	__u64 frames;
	__u64 bytes;
	__u32 linear;
	__u32 len;
	__u8 tail[8];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stats);
} stats SEC(".maps");

const volatile __u32 report = 64;  // packet bytes in each event
const volatile __u32 trim_to = 0;  // 0: leave the frame's length

SEC("xdp.frags")
int xdp_frags(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct stats *s = bpf_map_lookup_elem(&stats, &key);
	__u32 len = bpf_xdp_get_buff_len(ctx);
	__u32 be = bpf_htonl(len);
	__u64 n;

	if (!s)
		return XDP_ABORTED;
	s->frames++;
	s->bytes += len;
	s->linear = ctx->data_end - ctx->data;
	s->len = len;
	if (len >= 8)
		bpf_xdp_load_bytes(ctx, len - 8, s->tail, sizeof(s->tail));
	if (len >= 4)
		bpf_xdp_store_bytes(ctx, len - 4, &be, sizeof(be));

	n = report < len ? report : len;
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU | (n << 32), s, sizeof(*s));

	if (trim_to && trim_to < len && bpf_xdp_adjust_tail(ctx, -(int)(len - trim_to)))
		return XDP_DROP;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
