// sock_addr_nat.c - socket-level NAT with cgroup sock_addr hooks, as
// service load balancers do it: a connect() or sendto() to a service address
// (VIP:port in `services4`/`services6`) goes to its backend instead, and the
// answers a UDP socket receives from a backend (recvmsg4), or the peer it
// asks for (getpeername4), read as the service again (`reverse4`). Ports in
// `denied` (network order) fail connect, sendmsg and bind with EPERM; bind4
// turns `bind_from` into `bind_to`; sendmsg4 sends from `snat_src4` when it
// is set. `seen` holds what the last hook read; `calls` counts each hook.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct addr4 {
	__u32 ip;   // network order
	__u32 port; // network order in the low 16 bits, as bpf_sock_addr holds it
};

struct addr6 {
	__u32 ip[4];
	__u32 port;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct addr4);
	__type(value, struct addr4);
} services4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct addr4);
	__type(value, struct addr4);
} reverse4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct addr6);
	__type(value, struct addr6);
} services6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
} denied SEC(".maps");

struct seen {
	__u32 user_family, user_ip4, user_ip6[4], user_port;
	__u32 family, type, protocol, msg_src_ip4;
	__u32 port_byte1, ip_half1; // narrow loads: user_port's second byte, user_ip4's upper half
	__u32 sk_family, sk_type, sk_protocol, sk_state, sk_src_port, sk_src_ip4;
	__u32 cookie_set;
};

struct seen seen;
__u64 calls[6];
__u32 snat_src4;
__u32 bind_from, bind_to;

static __always_inline void see_sk(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	seen.family = ctx->family;
	seen.type = ctx->type;
	seen.protocol = ctx->protocol;
	seen.user_family = ctx->user_family;
	seen.user_port = ctx->user_port;
	seen.port_byte1 = *((volatile __u8 *)&ctx->user_port + 1);
	seen.sk_family = sk->family;
	seen.sk_type = sk->type;
	seen.sk_protocol = sk->protocol;
	seen.sk_state = sk->state;
	seen.sk_src_port = sk->src_port;
	seen.sk_src_ip4 = sk->src_ip4;
	seen.cookie_set = bpf_get_socket_cookie(ctx) != 0;
}

static __always_inline void see4(struct bpf_sock_addr *ctx)
{
	__builtin_memset(&seen, 0, sizeof(seen));
	see_sk(ctx);
	seen.user_ip4 = ctx->user_ip4;
	seen.ip_half1 = *((volatile __u16 *)&ctx->user_ip4 + 1);
}

static __always_inline int nat4(struct bpf_sock_addr *ctx)
{
	see4(ctx);
	__u32 port = ctx->user_port;
	if (bpf_map_lookup_elem(&denied, &port))
		return 0;
	struct addr4 key = { .ip = ctx->user_ip4, .port = port };
	struct addr4 *to = bpf_map_lookup_elem(&services4, &key);
	if (to) {
		ctx->user_ip4 = to->ip;
		ctx->user_port = to->port;
	}
	return 1;
}

static __always_inline int reverse(struct bpf_sock_addr *ctx)
{
	see4(ctx);
	struct addr4 key = { .ip = ctx->user_ip4, .port = ctx->user_port };
	struct addr4 *to = bpf_map_lookup_elem(&reverse4, &key);
	if (to) {
		ctx->user_ip4 = to->ip;
		ctx->user_port = to->port;
	}
	return 1;
}

SEC("cgroup/connect4")
int connect4(struct bpf_sock_addr *ctx)
{
	calls[0]++;
	return nat4(ctx);
}

SEC("cgroup/sendmsg4")
int sendmsg4(struct bpf_sock_addr *ctx)
{
	calls[1]++;
	int ok = nat4(ctx);
	seen.msg_src_ip4 = ctx->msg_src_ip4;
	if (ok && snat_src4)
		ctx->msg_src_ip4 = snat_src4;
	return ok;
}

SEC("cgroup/recvmsg4")
int recvmsg4(struct bpf_sock_addr *ctx)
{
	calls[2]++;
	return reverse(ctx);
}

SEC("cgroup/getpeername4")
int getpeername4(struct bpf_sock_addr *ctx)
{
	calls[3]++;
	return reverse(ctx);
}

SEC("cgroup/bind4")
int bind4(struct bpf_sock_addr *ctx)
{
	calls[4]++;
	see4(ctx);
	__u32 port = ctx->user_port;
	if (bpf_map_lookup_elem(&denied, &port))
		return 0;
	if (bind_from && port == bind_from)
		ctx->user_port = bind_to;
	return 1;
}

SEC("cgroup/connect6")
int connect6(struct bpf_sock_addr *ctx)
{
	calls[5]++;
	__builtin_memset(&seen, 0, sizeof(seen));
	see_sk(ctx);
	struct addr6 key = { .port = ctx->user_port };
	for (int i = 0; i < 4; i++)
		seen.user_ip6[i] = key.ip[i] = ctx->user_ip6[i];
	if (bpf_map_lookup_elem(&denied, &key.port))
		return 0;
	struct addr6 *to = bpf_map_lookup_elem(&services6, &key);
	if (to) {
		for (int i = 0; i < 4; i++)
			ctx->user_ip6[i] = to->ip[i];
		ctx->user_port = to->port;
	}
	return 1;
}

char _license[] SEC("license") = "GPL";
