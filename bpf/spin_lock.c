// spin_lock.c - map values holding a struct bpf_spin_lock, for the BPF_F_LOCK
// update/lookup flag (map.set(k, v, 'lock') / map.get(k, { lock: true })):
// the kernel copies such values under their lock, and refuses the flag on a
// map whose value has none (EINVAL).
//
// Behaviour (for BPF_PROG_TEST_RUN): under the lock of locked[0], packets += 1
// and bytes += the packet's length; returns XDP_PASS (XDP_ABORTED when the
// lookup fails, which an array never does).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct counter {
	struct bpf_spin_lock lock;	/* 4 bytes, at offset 0 */
	__u32 packets;			/* offset 4 */
	__u64 bytes;			/* offset 8 */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct counter);
} locked SEC(".maps");

SEC("xdp")
int xdp_locked_count(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 len = ctx->data_end - ctx->data;
	struct counter *c = bpf_map_lookup_elem(&locked, &key);

	if (!c)
		return XDP_ABORTED;
	bpf_spin_lock(&c->lock);
	c->packets += 1;
	c->bytes += len;
	bpf_spin_unlock(&c->lock);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
