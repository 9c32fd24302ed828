// ringbuf.c - one BPF ring buffer record per packet.
//
// RINGBUF max_entries is the buffer size in bytes and must be a power-of-two
// multiple of the page size; 4096*64 = 256 KiB.  The sequence number lives
// in .bss so the object also needs global-data support.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct event {
	__u64 seq;  // 1, 2, 3, ... (per object, across CPUs)
	__u32 len;  // packet length in bytes
	// 4 bytes of tail padding: record size is 16
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096 * 64);
} events SEC(".maps");

__u64 seq_counter;

SEC("xdp")
int xdp_ringbuf(struct xdp_md *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	// Buffer full (userspace not draining): drop the event, not the packet.
	if (!e)
		return XDP_PASS;

	e->seq = __sync_add_and_fetch(&seq_counter, 1);
	e->len = ctx->data_end - ctx->data;
	bpf_ringbuf_submit(e, 0);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
