// kfunc_missing.c - a strong (non-__weak) kfunc no kernel has: parsing and
// inspecting work, loading fails with an error naming the kfunc.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern int bpf_ts_missing_kfunc(__u32 x) __ksym;

SEC("xdp")
int xdp_calls_missing(struct xdp_md *ctx)
{
	return bpf_ts_missing_kfunc(ctx->ingress_ifindex) ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
