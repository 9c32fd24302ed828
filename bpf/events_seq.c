// events_seq.c - sequence-numbered records through both kinds of event map,
// for the reader tests: nothing lost unless the kernel says so, nothing
// duplicated, order kept, wrap-around, discarded ring buffer records.
//
// Every packet gets the next sequence number of each map (stats slots 0 and
// 2, counted even when the record cannot be written), so a reader can tell
// a gap from a duplicate; a write the kernel refused is counted too (slots
// 1 and 3), which is the independent figure lost/missing records must match.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct event {
	__u64 seq;  // 1, 2, 3, ... per map, across CPUs
	__u32 len;  // packet length in bytes
	__u32 cpu;  // CPU that ran the program
};

enum {
	RB_SEQ = 0,     // ring buffer sequence numbers handed out
	RB_FULL = 1,    // bpf_ringbuf_reserve failed (ring full)
	PERF_SEQ = 2,   // perf sequence numbers handed out
	PERF_FAIL = 3,  // bpf_perf_event_output failed (ring full: the kernel counts it lost)
	RB_DISCARDED = 4,
	N_STATS = 8,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, N_STATS);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

// 64 KiB: small enough that a test fills and wraps it quickly.
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096 * 16);
} rb SEC(".maps");

// max_entries 0: the loader sizes it to the possible CPUs.
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf SEC(".maps");

// Discard (bpf_ringbuf_discard) every record whose seq is a multiple of
// this; 0 never discards. Set before loading.
const volatile __u32 discard_every = 0;
// Bytes of the packet to append to each perf record (upper 32 bits of the
// flags); 0 appends nothing. Varies the record size for wrap-around tests.
const volatile __u32 perf_tail = 0;

static __always_inline __u64 *stat(__u32 k)
{
	return bpf_map_lookup_elem(&stats, &k);
}

static __always_inline void to_ringbuf(__u32 len)
{
	__u64 *seq = stat(RB_SEQ), *full = stat(RB_FULL), *disc = stat(RB_DISCARDED);

	if (!seq || !full || !disc)
		return;
	__u64 n = __sync_add_and_fetch(seq, 1);
	struct event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(full, 1);
		return;
	}
	e->seq = n;
	e->len = len;
	e->cpu = bpf_get_smp_processor_id();
	if (discard_every && n % discard_every == 0) {
		__sync_fetch_and_add(disc, 1);
		bpf_ringbuf_discard(e, 0);
	} else {
		bpf_ringbuf_submit(e, 0);
	}
}

static __always_inline void to_perf(struct xdp_md *ctx, __u32 len)
{
	__u64 *seq = stat(PERF_SEQ), *fail = stat(PERF_FAIL);

	if (!seq || !fail)
		return;
	struct event e = {
		.seq = __sync_add_and_fetch(seq, 1),
		.len = len,
		.cpu = bpf_get_smp_processor_id(),
	};
	__u64 tail = perf_tail < len ? perf_tail : len;
	if (bpf_perf_event_output(ctx, &perf, BPF_F_CURRENT_CPU | (tail << 32), &e, sizeof(e)) < 0)
		__sync_fetch_and_add(fail, 1);
}

// One record to each map per packet; the packet is dropped (the flood
// test's receiver needs no reply traffic).
SEC("xdp")
int xdp_both(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;

	to_ringbuf(len);
	to_perf(ctx, len);
	return XDP_DROP;
}

SEC("xdp")
int xdp_rb(struct xdp_md *ctx)
{
	to_ringbuf(ctx->data_end - ctx->data);
	return XDP_DROP;
}

SEC("xdp")
int xdp_perf(struct xdp_md *ctx)
{
	to_perf(ctx, ctx->data_end - ctx->data);
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
