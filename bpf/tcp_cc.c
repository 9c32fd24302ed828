// tcp_cc.c - a minimal TCP congestion control in BPF: a .struct_ops map
// implementing struct tcp_congestion_ops with Reno's kernel functions
// (kfuncs), plus counters a test reads back. Registered by loading; a
// socket picks it by name (net.ipv4.tcp_congestion_control in a test
// namespace). Programs take the raw u64 context a struct_ops member gets.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

extern void tcp_reno_cong_avoid(struct sock *sk, __u32 ack, __u32 acked) __ksym;
extern __u32 tcp_reno_ssthresh(struct sock *sk) __ksym;
extern __u32 tcp_reno_undo_cwnd(struct sock *sk) __ksym;

__u64 init_calls, cong_avoid_calls, ssthresh_calls;

SEC("struct_ops/bpfts_init")
int bpfts_init(unsigned long long *ctx)
{
	__sync_fetch_and_add(&init_calls, 1);
	return 0;
}

SEC("struct_ops/bpfts_cong_avoid")
int bpfts_cong_avoid(unsigned long long *ctx)
{
	struct sock *sk = (struct sock *)ctx[0];

	__sync_fetch_and_add(&cong_avoid_calls, 1);
	tcp_reno_cong_avoid(sk, (__u32)ctx[1], (__u32)ctx[2]);
	return 0;
}

SEC("struct_ops/bpfts_ssthresh")
__u32 bpfts_ssthresh(unsigned long long *ctx)
{
	__sync_fetch_and_add(&ssthresh_calls, 1);
	return tcp_reno_ssthresh((struct sock *)ctx[0]);
}

SEC("struct_ops/bpfts_undo_cwnd")
__u32 bpfts_undo_cwnd(unsigned long long *ctx)
{
	return tcp_reno_undo_cwnd((struct sock *)ctx[0]);
}

#ifndef STRUCT_OPS_SEC
#define STRUCT_OPS_SEC ".struct_ops" /* tcp_cc_link.c: ".struct_ops.link" */
#endif

SEC(STRUCT_OPS_SEC)
struct tcp_congestion_ops bpfts_cc = {
	.init = (void *)bpfts_init,
	.cong_avoid = (void *)bpfts_cong_avoid,
	.ssthresh = (void *)bpfts_ssthresh,
	.undo_cwnd = (void *)bpfts_undo_cwnd,
	.name = "bpfts_cc",
	/* TCP_CONG_NON_RESTRICTED: a namespace other than the initial one may make it its default */
	.flags = 0x1,
};

char _license[] SEC("license") = "GPL";
