// sk_lookup.c - socket lookup in BPF (BPF_PROG_TYPE_SK_LOOKUP, Linux 5.9+):
// run by a network namespace for each new connection or datagram before the
// kernel looks for a listening socket, it may pick the socket itself.
// `steer_ports` hands everything to ports 8000-8009 to the socket in
// `target` slot 0 (whatever port that socket is bound to), counting each in
// `steered`; the rest goes on to the usual lookup.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} target SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} steered SEC(".maps");

SEC("sk_lookup")
int steer_ports(struct bpf_sk_lookup *ctx)
{
	__u32 zero = 0;

	if (ctx->local_port < 8000 || ctx->local_port > 8009)
		return SK_PASS;
	struct bpf_sock *sk = bpf_map_lookup_elem(&target, &zero);
	if (!sk)
		return SK_PASS;
	long err = bpf_sk_assign(ctx, sk, 0);
	bpf_sk_release(sk);
	if (err)
		return SK_DROP;
	__u64 *n = bpf_map_lookup_elem(&steered, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
	return SK_PASS;
}

char _license[] SEC("license") = "GPL";
