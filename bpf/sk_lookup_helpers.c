// sk_lookup_helpers.c - socket lookups from TC and XDP programs: the test
// writes a query into `query` (TCP or UDP, the struct bpf_sock_tuple and the
// size given for it, netns and flags) before each run; tc_lookup and
// xdp_lookup call bpf_sk_lookup_tcp or bpf_sk_lookup_udp on it, the _skc_
// programs bpf_skc_lookup_tcp, and record in `answer` whether a socket was
// found and what its struct bpf_sock shows (a sock_common's fields only, for
// bpf_skc_lookup_tcp).
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct query {
	__u32 helper; // tc_lookup and xdp_lookup: 0 bpf_sk_lookup_tcp, 1 bpf_sk_lookup_udp
	__u32 size;   // 12 for IPv4, 36 for IPv6; any other size finds nothing
	__u64 netns;
	__u64 flags;
	__u8 tuple[40];
};

struct answer {
	__u32 found;
	__u32 family, state, type, protocol;
	__u32 src_port, dst_port, src_ip4, dst_ip4;
	__u32 src_ip6[4], dst_ip6[4];
	__u32 bound_dev_if;
};

struct query query;
struct answer answer;

/* Each field one volatile load: clang would otherwise add offsets to the socket pointer, which the verifier refuses. */
#define R(sk, f) (*(volatile __u32 *)&(sk)->f)

#define COMMON(sk)                                              \
	do {                                                    \
		answer.found = 1;                               \
		answer.family = R(sk, family);                   \
		answer.state = R(sk, state);                     \
		answer.src_port = R(sk, src_port);               \
		answer.dst_port = R(sk, dst_port);               \
		answer.src_ip4 = R(sk, src_ip4);                 \
		answer.dst_ip4 = R(sk, dst_ip4);                 \
		for (int i = 0; i < 4; i++) {                   \
			answer.src_ip6[i] = R(sk, src_ip6[i]);   \
			answer.dst_ip6[i] = R(sk, dst_ip6[i]);   \
		}                                               \
		answer.bound_dev_if = R(sk, bound_dev_if);       \
	} while (0)

/* The query's tuple and size, or return: the size bounded in two checks the
 * verifier sees (clang would fold them into one it cannot use). */
#define TUPLE(t, size)                                                          \
	__builtin_memset(&answer, 0, sizeof(answer));                           \
	__u32 size = query.size;                                                \
	if (size > sizeof(query.tuple))                                         \
		return 0;                                                       \
	asm volatile("" : "+r"(size));                                          \
	if (size == 0)                                                          \
		return 0;                                                       \
	struct bpf_sock_tuple *t = (struct bpf_sock_tuple *)query.tuple

/* bpf_sk_lookup_tcp (helper 0) or bpf_sk_lookup_udp (1): a full socket. */
#define LOOKUP(ctx)                                                                             \
	do {                                                                                    \
		TUPLE(t, size);                                                                 \
		struct bpf_sock *sk = query.helper == 1 ? bpf_sk_lookup_udp(ctx, t, size, query.netns, query.flags) \
							: bpf_sk_lookup_tcp(ctx, t, size, query.netns, query.flags); \
		if (!sk)                                                                        \
			return 0;                                                               \
		answer.type = R(sk, type);                                                      \
		answer.protocol = R(sk, protocol);                                              \
		COMMON(sk);                                                                     \
		bpf_sk_release(sk);                                                             \
		return 0;                                                                       \
	} while (0)

/* bpf_skc_lookup_tcp: a sock_common (a listener, a connection, or what only
 * skc finds), whose type and protocol the verifier does not let a program read. */
#define SKC_LOOKUP(ctx)                                                                         \
	do {                                                                                    \
		TUPLE(t, size);                                                                 \
		struct bpf_sock *sk = bpf_skc_lookup_tcp(ctx, t, size, query.netns, query.flags); \
		if (!sk)                                                                        \
			return 0;                                                               \
		COMMON(sk);                                                                     \
		bpf_sk_release(sk);                                                             \
		return 0;                                                                       \
	} while (0)

SEC("tc")
int tc_lookup(struct __sk_buff *skb)
{
	LOOKUP(skb);
}

SEC("tc")
int tc_skc_lookup(struct __sk_buff *skb)
{
	SKC_LOOKUP(skb);
}

SEC("xdp")
int xdp_lookup(struct xdp_md *ctx)
{
	LOOKUP(ctx);
}

SEC("xdp")
int xdp_skc_lookup(struct xdp_md *ctx)
{
	SKC_LOOKUP(ctx);
}

/* A TCP packet to a port nobody listens on (and no connection of ours) is
 * dropped, as a host firewall might: the packet's own tuple looked up with
 * bpf_skc_lookup_tcp (IPv4 and IPv6, no IP options); `verdicts` counts
 * [0] passed, [1] dropped. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} verdicts SEC(".maps");

static __always_inline int count(__u32 i, int verdict)
{
	__u64 *n = bpf_map_lookup_elem(&verdicts, &i);
	if (n)
		__sync_fetch_and_add(n, 1);
	return verdict;
}

SEC("tc")
int tc_no_listener_drop(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct bpf_sock_tuple t = {};
	__u32 size;
	__u8 *eth = data;
	if (data + 14 > end)
		return TC_ACT_OK;
	__u16 proto = (eth[12] << 8) | eth[13];
	__u8 *ip = data + 14;
	__u8 *l4;
	if (proto == 0x0800) {
		if ((void *)ip + 20 > end || ip[9] != 6 || (ip[0] & 0x0f) != 5)
			return TC_ACT_OK;
		__builtin_memcpy(&t.ipv4.saddr, ip + 12, 4);
		__builtin_memcpy(&t.ipv4.daddr, ip + 16, 4);
		l4 = ip + 20;
		if ((void *)l4 + 4 > end)
			return TC_ACT_OK;
		__builtin_memcpy(&t.ipv4.sport, l4, 2);
		__builtin_memcpy(&t.ipv4.dport, l4 + 2, 2);
		size = sizeof(t.ipv4);
	} else if (proto == 0x86dd) {
		if ((void *)ip + 40 > end || ip[6] != 6)
			return TC_ACT_OK;
		__builtin_memcpy(t.ipv6.saddr, ip + 8, 16);
		__builtin_memcpy(t.ipv6.daddr, ip + 24, 16);
		l4 = ip + 40;
		if ((void *)l4 + 4 > end)
			return TC_ACT_OK;
		__builtin_memcpy(&t.ipv6.sport, l4, 2);
		__builtin_memcpy(&t.ipv6.dport, l4 + 2, 2);
		size = sizeof(t.ipv6);
	} else {
		return TC_ACT_OK;
	}
	struct bpf_sock *sk = bpf_skc_lookup_tcp(skb, &t, size, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return count(1, TC_ACT_SHOT);
	bpf_sk_release(sk);
	return count(0, TC_ACT_OK);
}

char _license[] SEC("license") = "GPL";
