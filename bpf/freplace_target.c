// freplace_target.c - an XDP program whose verdict comes from a global
// function, decide(), which freplace_ext.c's program can replace.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__attribute__((noinline)) int decide(struct xdp_md *ctx)
{
	return ctx->data_end - ctx->data > 1000 ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int xdp_decider(struct xdp_md *ctx)
{
	return decide(ctx);
}

char _license[] SEC("license") = "GPL";
