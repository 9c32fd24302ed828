// dynptr_slices.c - packet access through dynptrs: bpf_dynptr_from_xdp /
// bpf_dynptr_from_skb, then bpf_dynptr_slice at the frame's start and at an
// offset the test sets in `ctl` before each run — inside the linear part (a
// pointer into the packet), across an XDP frame's fragments (the bytes
// copied into the buffer given, NULL without one) or past the end (NULL) —
// and, for TC, a write through bpf_dynptr_slice_rdwr at another offset.
// `seen` records each answer (0xdead for NULL).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern int bpf_dynptr_from_xdp(struct xdp_md *x, __u64 flags, struct bpf_dynptr *ptr__uninit) __ksym;
extern int bpf_dynptr_from_skb(struct __sk_buff *skb, __u64 flags, struct bpf_dynptr *ptr__uninit) __ksym;
extern void *bpf_dynptr_slice(const struct bpf_dynptr *ptr, __u32 offset, void *buffer__opt, __u32 buffer__szk) __ksym;
extern void *bpf_dynptr_slice_rdwr(const struct bpf_dynptr *ptr, __u32 offset, void *buffer__opt, __u32 buffer__szk) __ksym;
extern __u32 bpf_dynptr_size(const struct bpf_dynptr *p) __ksym;

#define NONE 0xdead

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} ctl SEC(".maps"); // [0] probe offset, [1] TC write offset

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

static __always_inline void put(__u32 slot, __u64 v)
{
	__u64 *p = bpf_map_lookup_elem(&seen, &slot);

	if (p)
		*p = v;
}

static __always_inline __u32 control(__u32 slot)
{
	__u32 *v = bpf_map_lookup_elem(&ctl, &slot);

	return v ? *v : 0;
}

static __always_inline __u64 word(const void *s)
{
	__u64 v;

	if (!s)
		return NONE;
	__builtin_memcpy(&v, s, sizeof(v));
	return v;
}

static __always_inline void probe(struct bpf_dynptr *p)
{
	__u8 buf[8] = {};
	__u32 off = control(0);

	put(0, bpf_dynptr_size(p));
	put(1, word(bpf_dynptr_slice(p, 0, buf, sizeof(buf))));
	put(2, word(bpf_dynptr_slice(p, off, buf, sizeof(buf))));
	put(3, word(bpf_dynptr_slice(p, off, NULL, sizeof(buf))));
}

SEC("xdp.frags")
int xdp_slices(struct xdp_md *ctx)
{
	struct bpf_dynptr p;

	if (bpf_dynptr_from_xdp(ctx, 0, &p))
		return XDP_ABORTED;
	probe(&p);
	return XDP_PASS;
}

SEC("tc")
int tc_slices(struct __sk_buff *skb)
{
	struct bpf_dynptr p;
	__u8 buf[4] = {};
	__u8 *w;

	if (bpf_dynptr_from_skb(skb, 0, &p))
		return 2; // TC_ACT_SHOT
	probe(&p);
	w = bpf_dynptr_slice_rdwr(&p, control(1), buf, sizeof(buf));
	put(4, w ? 1 : NONE);
	if (w) {
		w[0] = 0xee;
		w[3] = 0xff;
	}
	return 0; // TC_ACT_OK
}

char _license[] SEC("license") = "GPL";
