// sockops_redir.c - short-circuit local TCP: sockops records established
// sockets in a SOCKHASH, sk_msg then hands each sendmsg() payload straight to
// the peer socket's ingress queue, skipping the TCP/IP stack.
//
// Key convention: ports are stored as 32-bit network-order values, which is
// what bpf_sock_ops.remote_port / sk_msg_md.remote_port already are; the
// local_port fields are host order and get bpf_htonl().  The sk_msg side
// builds the *peer's* key by swapping local and remote.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct sock_key {
	__u32 sip;    // local IPv4 (network order)
	__u32 dip;    // remote IPv4 (network order)
	__u32 sport;  // local port, bpf_htonl(port)
	__u32 dport;  // remote port, network order
};

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65535);
	__type(key, struct sock_key);
	__type(value, __u32);
} sock_map SEC(".maps");

SEC("sockops")
int bpf_sockmap(struct bpf_sock_ops *skops)
{
	// Only IPv4; the key has no room for v6 addresses.
	if (skops->family != 2 /* AF_INET */)
		return 0;

	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB: {
		struct sock_key key = {
			.sip   = skops->local_ip4,
			.dip   = skops->remote_ip4,
			.sport = bpf_htonl(skops->local_port),
			.dport = skops->remote_port,
		};
		bpf_sock_hash_update(skops, &sock_map, &key, BPF_NOEXIST);
		break;
	}
	default:
		break;
	}
	return 0;
}

SEC("sk_msg")
int bpf_redir(struct sk_msg_md *msg)
{
	if (msg->family != 2 /* AF_INET */)
		return SK_PASS;

	// The peer registered itself with local/remote the other way round.
	struct sock_key reversed_key = {
		.sip   = msg->remote_ip4,
		.dip   = msg->local_ip4,
		.sport = msg->remote_port,
		.dport = bpf_htonl(msg->local_port),
	};

	// If the peer is not in the map (e.g. not local), the message simply
	// takes the normal path; SK_PASS either way.
	bpf_msg_redirect_hash(msg, &sock_map, &reversed_key, BPF_F_INGRESS);
	return SK_PASS;
}

char _license[] SEC("license") = "GPL";
