// freplace_ext.c - replaces decide() of freplace_target.c's program: every
// frame is dropped. Loading needs the target program (its fd) from the caller.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("freplace/decide")
int drop_everything(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
