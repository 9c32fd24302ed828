// sockops_policy.c - a sock_ops program (BPF_PROG_TYPE_SOCK_OPS) that
// records every call the kernel makes and acts on it as `cfg` says.
// `record` (sockops) puts one struct record per call in the `calls` ring
// buffer: the op and its args, every struct bpf_sock_ops field, the socket's
// cookie, ctx->sk's state and family, its struct bpf_tcp_sock
// (bpf_tcp_sock), the segment's TCP header (when it has one), and what the
// program then did — for an op in cfg.act_ops:
// bpf_sock_ops_cb_flags_set(cfg.cb_flags) (when cfg.set_cb), up to three
// bpf_setsockopt and three bpf_getsockopt calls (level, optname, 1 to 16
// bytes), a reply and an sk_txhash written, bpf_sock_hash_update into
// `socks` keyed by the cookie (cfg.map_update, flags cfg.map_flags) — and
// the fields those change, read again. It returns 0 for an op in
// cfg.deny_ops, else 1.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define NOPT 3

struct opt {
	__s32 level, optname;
	__u32 len;
	__u8 val[16];
};

struct config {
	__u32 act_ops, deny_ops;
	__u32 set_cb;
	__s32 cb_flags;
	__u32 set_reply, reply;
	__u32 set_txhash, txhash;
	__u32 map_update;
	__u64 map_flags;
	struct opt set[NOPT];
	struct opt get[NOPT];
};

struct record {
	__u32 op, args[4], family, remote_ip4, local_ip4, remote_ip6[4], local_ip6[4];
	__u32 remote_port, local_port, is_fullsock;
	__u32 snd_cwnd, srtt_us, cb_flags, state, rtt_min, snd_ssthresh, rcv_nxt, snd_nxt, snd_una;
	__u32 mss_cache, ecn_flags, rate_delivered, rate_interval_us, packets_out, retrans_out;
	__u32 total_retrans, segs_in, data_segs_in, segs_out, data_segs_out, lost_out, sacked_out, sk_txhash;
	__u64 bytes_received, bytes_acked;
	__u32 skb_len, skb_tcp_flags;
	__u64 skb_hwtstamp;
	__u64 cookie;
	__u32 has_sk, sk_state, sk_family, has_skb;
	// The TCP header's first 20 bytes, when the segment shows them; how many bytes it shows (0, 20, 40 or 60 and more).
	__u8 th[20];
	__u32 skb_room, flags_byte;
	__s32 cb_ret, set_ret[NOPT], get_ret[NOPT];
	__u8 got[NOPT][16];
	__u32 after_cwnd, after_ssthresh, after_cb_flags, after_txhash, after_reply;
	__s32 map_ret;
	// bpf_tcp_sock(ctx->sk): the same tcp_sock as struct bpf_tcp_sock shows it.
	__u32 has_tp;
	struct bpf_tcp_sock tp;
};

struct config cfg;
// Never set: it puts struct record in the object's BTF, where tests read its layout.
struct record *record_layout;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, __u64);
} socks SEC(".maps");

SEC("sockops")
int record(struct bpf_sock_ops *ctx)
{
	struct record *r = bpf_ringbuf_reserve(&calls, sizeof(*r), 0);
	__u32 op = ctx->op;
	int i;

	if (!r)
		return 1;
	__builtin_memset(r, 0, sizeof(*r));
	r->op = op;
	r->args[0] = ctx->args[0];
	r->args[1] = ctx->args[1];
	r->args[2] = ctx->args[2];
	r->args[3] = ctx->args[3];
	r->family = ctx->family;
	r->remote_ip4 = ctx->remote_ip4;
	r->local_ip4 = ctx->local_ip4;
	for (i = 0; i < 4; i++) {
		r->remote_ip6[i] = ctx->remote_ip6[i];
		r->local_ip6[i] = ctx->local_ip6[i];
	}
	r->remote_port = ctx->remote_port;
	r->local_port = ctx->local_port;
	r->is_fullsock = ctx->is_fullsock;
	r->snd_cwnd = ctx->snd_cwnd;
	r->srtt_us = ctx->srtt_us;
	r->cb_flags = ctx->bpf_sock_ops_cb_flags;
	r->state = ctx->state;
	r->rtt_min = ctx->rtt_min;
	r->snd_ssthresh = ctx->snd_ssthresh;
	r->rcv_nxt = ctx->rcv_nxt;
	r->snd_nxt = ctx->snd_nxt;
	r->snd_una = ctx->snd_una;
	r->mss_cache = ctx->mss_cache;
	r->ecn_flags = ctx->ecn_flags;
	r->rate_delivered = ctx->rate_delivered;
	r->rate_interval_us = ctx->rate_interval_us;
	r->packets_out = ctx->packets_out;
	r->retrans_out = ctx->retrans_out;
	r->total_retrans = ctx->total_retrans;
	r->segs_in = ctx->segs_in;
	r->data_segs_in = ctx->data_segs_in;
	r->segs_out = ctx->segs_out;
	r->data_segs_out = ctx->data_segs_out;
	r->lost_out = ctx->lost_out;
	r->sacked_out = ctx->sacked_out;
	r->sk_txhash = ctx->sk_txhash;
	r->bytes_received = ctx->bytes_received;
	r->bytes_acked = ctx->bytes_acked;
	r->skb_len = ctx->skb_len;
	r->skb_tcp_flags = ctx->skb_tcp_flags;
	r->flags_byte = *(volatile __u8 *)&ctx->skb_tcp_flags;
	// skb_hwtstamp (6.2) is past the end of this build's <linux/bpf.h>: read at its offset.
	r->skb_hwtstamp = *(__u64 *)((char *)ctx + 216);
	r->cookie = bpf_get_socket_cookie(ctx);

	struct bpf_sock *sk = ctx->sk;
	if (sk) {
		r->has_sk = 1;
		r->sk_state = sk->state;
		r->sk_family = sk->family;
		struct bpf_tcp_sock *tp = bpf_tcp_sock(sk);
		if (tp) {
			r->has_tp = 1;
			r->tp.snd_cwnd = tp->snd_cwnd;
			r->tp.srtt_us = tp->srtt_us;
			r->tp.rtt_min = tp->rtt_min;
			r->tp.snd_ssthresh = tp->snd_ssthresh;
			r->tp.rcv_nxt = tp->rcv_nxt;
			r->tp.snd_nxt = tp->snd_nxt;
			r->tp.snd_una = tp->snd_una;
			r->tp.mss_cache = tp->mss_cache;
			r->tp.ecn_flags = tp->ecn_flags;
			r->tp.rate_delivered = tp->rate_delivered;
			r->tp.rate_interval_us = tp->rate_interval_us;
			r->tp.packets_out = tp->packets_out;
			r->tp.retrans_out = tp->retrans_out;
			r->tp.total_retrans = tp->total_retrans;
			r->tp.segs_in = tp->segs_in;
			r->tp.data_segs_in = tp->data_segs_in;
			r->tp.segs_out = tp->segs_out;
			r->tp.data_segs_out = tp->data_segs_out;
			r->tp.lost_out = tp->lost_out;
			r->tp.sacked_out = tp->sacked_out;
			r->tp.bytes_received = tp->bytes_received;
			r->tp.bytes_acked = tp->bytes_acked;
			r->tp.dsack_dups = tp->dsack_dups;
			r->tp.delivered = tp->delivered;
			r->tp.delivered_ce = tp->delivered_ce;
			r->tp.icsk_retransmits = tp->icsk_retransmits;
		}
	}

	__u8 *data = (void *)(long)ctx->skb_data;
	__u8 *end = (void *)(long)ctx->skb_data_end;
	if (data) {
		r->has_skb = 1;
		if (data + 20 <= end) {
			__builtin_memcpy(r->th, data, 20);
			r->skb_room = 20;
		}
		if (data + 40 <= end)
			r->skb_room = 40;
		if (data + 60 <= end)
			r->skb_room = 60;
	}

	if (op < 32 && (cfg.act_ops >> op) & 1) {
		if (cfg.set_cb)
			r->cb_ret = bpf_sock_ops_cb_flags_set(ctx, cfg.cb_flags);
		for (i = 0; i < NOPT; i++) {
			// 1 to 16 bytes, as the verifier wants a size it can bound.
			__u32 len = ((cfg.set[i].len - 1) & 15) + 1;
			if (cfg.set[i].len)
				r->set_ret[i] = bpf_setsockopt(ctx, cfg.set[i].level, cfg.set[i].optname, cfg.set[i].val, len);
		}
		for (i = 0; i < NOPT; i++) {
			__u32 len = ((cfg.get[i].len - 1) & 15) + 1;
			if (cfg.get[i].len)
				r->get_ret[i] = bpf_getsockopt(ctx, cfg.get[i].level, cfg.get[i].optname, r->got[i], len);
		}
		if (cfg.set_reply)
			ctx->reply = cfg.reply;
		if (cfg.set_txhash)
			ctx->sk_txhash = cfg.txhash;
		if (cfg.map_update) {
			__u64 key = r->cookie;
			r->map_ret = bpf_sock_hash_update(ctx, &socks, &key, cfg.map_flags);
		}
	}
	r->after_cwnd = ctx->snd_cwnd;
	r->after_ssthresh = ctx->snd_ssthresh;
	r->after_cb_flags = ctx->bpf_sock_ops_cb_flags;
	r->after_txhash = ctx->sk_txhash;
	r->after_reply = ctx->reply;
	bpf_ringbuf_submit(r, 0);
	return op < 32 && (cfg.deny_ops >> op) & 1 ? 0 : 1;
}

char _license[] SEC("license") = "GPL";
