// subprogs.c - BPF-to-BPF calls and callbacks.
//
// .text holds a static and a global (separately verified) function; several
// programs share one section and call into .text, so a loader must append
// each callee to every program that uses it and fix up the call offsets.
// xdp_loop passes a static callback to bpf_loop(), which clang emits as an
// ld_imm64 relocated against .text (BPF_PSEUDO_FUNC once loaded).
//
// Expected BPF_PROG_TEST_RUN return values:
//   xdp_a    = add_one(1)            = 2 (XDP_PASS)
//   xdp_b    = add_one(mul_two(1))   = 3 (XDP_TX)
//   xdp_c    = 1                         (XDP_DROP)
//   xdp_loop = 0+1+2+3 == 6 ? 2 : 0      (XDP_PASS)
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

// Static: the verifier inlines it into each caller's verification.
static __noinline int add_one(int x)
{
	return x + 1;
}

// Global: has BTF linkage "global" and is verified once, independently.
__noinline int mul_two(int x)
{
	return x * 2;
}

// bpf_loop callback: returning 0 means "keep looping".
static long sum_index(__u32 index, void *ctx)
{
	*(__u32 *)ctx += index;
	return 0;
}

SEC("xdp")
int xdp_a(struct xdp_md *ctx)
{
	return add_one(1);
}

SEC("xdp")
int xdp_b(struct xdp_md *ctx)
{
	return add_one(mul_two(1));
}

SEC("xdp")
int xdp_c(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int xdp_loop(struct xdp_md *ctx)
{
	__u32 sum = 0;

	bpf_loop(4, sum_index, &sum, 0);
	return sum == 6 ? XDP_PASS : XDP_ABORTED;
}

char _license[] SEC("license") = "GPL";
