// sock_create.c - cgroup sock programs (BPF_PROG_TYPE_CGROUP_SOCK): what a
// socket of the cgroup gets when it is made, and which binds it may keep.
// `create` marks every new socket (SO_MARK `mark_with`, SO_PRIORITY 5 for
// UDP, SO_BINDTODEVICE lo for TCP when `pin_tcp_to_lo` is set) and refuses
// those of protocol `deny_protocol` (socket() fails with EPERM); `bind4`/`bind6` (post_bind) refuse
// a bind to a port below 1024 on any address but loopback. `seen` holds what
// the last program read of its struct bpf_sock; `calls` counts each.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct seen {
	__u32 family, type, protocol, state;
	__u32 bound_dev_if, mark, priority;
	__u32 src_ip4, src_ip6[4], src_port;
	__u32 src_port_byte0;
};

struct seen seen;
__u64 calls[3];
__u32 mark_with;
__u32 pin_tcp_to_lo;
__u32 deny_protocol;

SEC("cgroup/sock_create")
int create(struct bpf_sock *sk)
{
	calls[0]++;
	__builtin_memset(&seen, 0, sizeof(seen));
	seen.family = sk->family;
	seen.type = sk->type;
	seen.protocol = sk->protocol;
	seen.state = sk->state;
	seen.bound_dev_if = sk->bound_dev_if;
	seen.mark = sk->mark;
	seen.priority = sk->priority;
	if (deny_protocol && sk->protocol == deny_protocol)
		return 0;
	sk->mark = mark_with;
	if (sk->protocol == 17)
		sk->priority = 5;
	if (sk->protocol == 6 && pin_tcp_to_lo)
		sk->bound_dev_if = 1;
	return 1;
}

SEC("cgroup/post_bind4")
int bind4(struct bpf_sock *sk)
{
	calls[1]++;
	__builtin_memset(&seen, 0, sizeof(seen));
	seen.family = sk->family;
	seen.type = sk->type;
	seen.protocol = sk->protocol;
	seen.state = sk->state;
	seen.src_ip4 = sk->src_ip4;
	seen.src_port = sk->src_port;
	seen.src_port_byte0 = *(volatile __u8 *)&sk->src_port;
	if (sk->src_port < 1024 && (sk->src_ip4 & 0xff) != 127)
		return 0;
	return 1;
}

SEC("cgroup/post_bind6")
int bind6(struct bpf_sock *sk)
{
	calls[2]++;
	__builtin_memset(&seen, 0, sizeof(seen));
	seen.family = sk->family;
	seen.type = sk->type;
	seen.protocol = sk->protocol;
	seen.state = sk->state;
	for (int i = 0; i < 4; i++)
		seen.src_ip6[i] = sk->src_ip6[i];
	seen.src_port = sk->src_port;
	int loopback = sk->src_ip6[0] == 0 && sk->src_ip6[1] == 0 && sk->src_ip6[2] == 0 && sk->src_ip6[3] == bpf_htonl(1);
	if (sk->src_port < 1024 && !loopback)
		return 0;
	return 1;
}

char _license[] SEC("license") = "GPL";
