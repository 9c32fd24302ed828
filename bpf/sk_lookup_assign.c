// sk_lookup_assign.c - what a socket lookup program sees and what
// bpf_sk_assign answers, for comparing the emulator with the kernel.
// `pick` reads every field of its struct bpf_sk_lookup (remote_port at 2 and
// 4 bytes, the padding after it, a narrow load of local_port) into `seen`,
// then lets local_port's bits choose what to do:
//   bits 0-2   slot of `socks` (SOCKMAP) to look up and assign
//   bits 3-5   flags of that assign (1 REPLACE, 2 NO_REUSEPORT, 4 unknown)
//   bit  6     assign again, from `by_key` (SOCKHASH) key bits 7-9
//   bits 10-11 flags of the second assign
//   bit  12    ... with NULL instead of the socket
//   bit  13    return SK_DROP
// and records each socket's struct bpf_sock fields, the assigns' results,
// and ctx->sk after them.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} by_key SEC(".maps");

struct sock_seen {
	__u32 bound_dev_if, family, type, protocol, mark, priority;
	__u32 src_ip4, src_ip6[4], src_port;
	__u32 dst_port, dst_ip4, dst_ip6[4];
	__u32 state;
	__s32 rx_queue_mapping;
};

struct seen {
	__u32 family, protocol, remote_ip4, remote_ip6[4];
	__u32 remote_port16, remote_port32, pad16;
	__u32 local_ip4, local_ip6[4], local_port, local_port_byte1, ingress_ifindex;
	__u32 found1, found2, selected;
	__s64 err1, err2;
	struct sock_seen sk1, sk2, after;
};

struct seen seen;

static __always_inline void read_sock(struct sock_seen *out, struct bpf_sock *sk)
{
	out->bound_dev_if = sk->bound_dev_if;
	out->family = sk->family;
	out->type = sk->type;
	out->protocol = sk->protocol;
	out->mark = sk->mark;
	out->priority = sk->priority;
	out->src_ip4 = sk->src_ip4;
	for (int i = 0; i < 4; i++)
		out->src_ip6[i] = sk->src_ip6[i];
	out->src_port = sk->src_port;
	out->dst_port = sk->dst_port;
	out->dst_ip4 = sk->dst_ip4;
	for (int i = 0; i < 4; i++)
		out->dst_ip6[i] = sk->dst_ip6[i];
	out->state = sk->state;
	out->rx_queue_mapping = sk->rx_queue_mapping;
}

SEC("sk_lookup")
int pick(struct bpf_sk_lookup *ctx)
{
	__builtin_memset(&seen, 0, sizeof(seen));
	seen.family = ctx->family;
	seen.protocol = ctx->protocol;
	seen.remote_ip4 = ctx->remote_ip4;
	for (int i = 0; i < 4; i++)
		seen.remote_ip6[i] = ctx->remote_ip6[i];
	seen.remote_port16 = *(volatile __u16 *)&ctx->remote_port;
	seen.remote_port32 = *(volatile __u32 *)&ctx->remote_port;
	seen.pad16 = *(volatile __u16 *)((void *)ctx + 38);
	seen.local_ip4 = ctx->local_ip4;
	for (int i = 0; i < 4; i++)
		seen.local_ip6[i] = ctx->local_ip6[i];
	seen.local_port = ctx->local_port;
	seen.local_port_byte1 = *((volatile __u8 *)&ctx->local_port + 1);
	seen.ingress_ifindex = ctx->ingress_ifindex;

	__u32 bits = ctx->local_port;
	__u32 slot = bits & 7;
	struct bpf_sock *sk = bpf_map_lookup_elem(&socks, &slot);
	seen.found1 = sk != 0;
	if (sk)
		read_sock(&seen.sk1, sk);
	seen.err1 = bpf_sk_assign(ctx, sk, (bits >> 3) & 7);
	if (sk)
		bpf_sk_release(sk);

	if (bits & (1 << 6)) {
		__u32 key = (bits >> 7) & 7;
		struct bpf_sock *sk2 = bpf_map_lookup_elem(&by_key, &key);
		seen.found2 = sk2 != 0;
		if (sk2) {
			read_sock(&seen.sk2, sk2);
			if (bits & (1 << 12))
				seen.err2 = bpf_sk_assign(ctx, 0, (bits >> 10) & 3);
			else
				seen.err2 = bpf_sk_assign(ctx, sk2, (bits >> 10) & 3);
			bpf_sk_release(sk2);
		}
	}

	struct bpf_sock *cur = ctx->sk;
	if (cur) {
		seen.selected = 1;
		read_sock(&seen.after, cur);
	}
	return bits & (1 << 13) ? SK_DROP : SK_PASS;
}

char _license[] SEC("license") = "GPL";
