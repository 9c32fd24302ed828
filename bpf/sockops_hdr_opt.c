// sockops_hdr_opt.c - TCP header options from a sock_ops program: `hdr`
// (sockops) turns the header-option callbacks on (cfg.cb_flags, in
// TCP_LISTEN_CB and TCP_CONNECT_CB, so the listener's SYN-ACKs and the
// connecting side's SYN have them too), reserves cfg.reserve[] bytes in
// HDR_OPT_LEN_CB, stores the cfg.store[] options in WRITE_HDR_OPT_CB and
// looks the cfg.load[] options up (in the segment, or in the SYN with
// BPF_LOAD_HDR_OPT_TCP_SYN) in every TCP callback. One struct record per
// call goes to the `calls` ring buffer: the op, args[0], the segment's
// length and flags, the header bytes it shows before and after the stores,
// the SYN as bpf_getsockopt(TCP_BPF_SYN) reads it, and every helper's result.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define N 2
#define SOL_TCP 6
#define TCP_BPF_SYN 1005

struct opt {
	__u32 len;
	__u64 flags;
	__u8 bytes[16];
};

struct config {
	__s32 cb_flags;
	__u32 reserve[N];
	__u64 reserve_flags;
	struct opt store[N];
	struct opt load[N];
};

struct record {
	__u32 op, arg0, is_fullsock, has_skb, skb_len, skb_tcp_flags;
	// The bytes skb_data..skb_data_end shows (whole words): before and after the stores.
	__u32 shown, shown_after;
	__u8 hdr[60], hdr_after[60];
	__s32 syn_ret;
	__u8 syn[60];
	__s32 cb_ret, reserve_ret[N], store_ret[N], load_ret[N];
	__u8 loaded[N][16];
};

struct config cfg;
// Never set: it puts struct record in the BTF, where tests read its layout.
struct record *record_layout;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} calls SEC(".maps");

// The segment's bytes, a word at a time while they last; how many.
static __always_inline __u32 copy_shown(struct bpf_sock_ops *ctx, __u8 *to)
{
	__u32 *data = (void *)(long)ctx->skb_data;
	void *end = (void *)(long)ctx->skb_data_end;
	__u32 n = 0;

#pragma unroll
	for (int i = 0; i < 15; i++) {
		if ((void *)(data + i + 1) > end)
			break;
		((__u32 *)to)[i] = data[i];
		n += 4;
	}
	return n;
}

SEC("sockops")
int hdr(struct bpf_sock_ops *ctx)
{
	struct record *r = bpf_ringbuf_reserve(&calls, sizeof(*r), 0);
	__u32 op = ctx->op;
	int i;

	if (!r)
		return 1;
	__builtin_memset(r, 0, sizeof(*r));
	r->op = op;
	r->arg0 = ctx->args[0];
	r->is_fullsock = ctx->is_fullsock;
	r->skb_len = ctx->skb_len;
	r->skb_tcp_flags = ctx->skb_tcp_flags;
	if (ctx->skb_data) {
		r->has_skb = 1;
		r->shown = copy_shown(ctx, r->hdr);
	}
	r->syn_ret = bpf_getsockopt(ctx, SOL_TCP, TCP_BPF_SYN, r->syn, sizeof(r->syn));

	if (op == BPF_SOCK_OPS_TCP_LISTEN_CB || op == BPF_SOCK_OPS_TCP_CONNECT_CB)
		r->cb_ret = bpf_sock_ops_cb_flags_set(ctx, cfg.cb_flags);
	if (op == BPF_SOCK_OPS_HDR_OPT_LEN_CB)
		for (i = 0; i < N; i++)
			if (cfg.reserve[i])
				r->reserve_ret[i] = bpf_reserve_hdr_opt(ctx, cfg.reserve[i], cfg.reserve_flags);
	if (op == BPF_SOCK_OPS_WRITE_HDR_OPT_CB) {
		for (i = 0; i < N; i++) {
			__u32 len = ((cfg.store[i].len - 1) & 15) + 1;
			if (cfg.store[i].len)
				r->store_ret[i] = bpf_store_hdr_opt(ctx, cfg.store[i].bytes, len, cfg.store[i].flags);
		}
		if (ctx->skb_data)
			r->shown_after = copy_shown(ctx, r->hdr_after);
	}
	for (i = 0; i < N; i++) {
		__u32 len = ((cfg.load[i].len - 1) & 15) + 1;
		if (!cfg.load[i].len)
			continue;
		__builtin_memcpy(r->loaded[i], cfg.load[i].bytes, 16);
		r->load_ret[i] = bpf_load_hdr_opt(ctx, r->loaded[i], len, cfg.load[i].flags);
	}
	bpf_ringbuf_submit(r, 0);
	return 1;
}

char _license[] SEC("license") = "GPL";
