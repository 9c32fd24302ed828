// kfuncs.c - kernel function calls (kfuncs) as libbpf objects declare them:
// `extern … __ksym` prototypes called like functions.
//  - xdp_dynptr_len: bpf_dynptr_from_xdp + bpf_dynptr_size (vmlinux BTF
//    kfuncs); returns XDP_DROP for a 60-byte frame, XDP_PASS otherwise, so
//    a test run proves the calls reached the kernel functions.
//  - xdp_weak_missing: a __weak kfunc no kernel has, guarded by
//    bpf_ksym_exists(): the call is poisoned in dead code and the program
//    loads (returns XDP_PASS); the guard sees 0.
// Strong, unresolvable kfuncs are in kfunc_missing.c.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_dynptr;
extern int bpf_dynptr_from_xdp(struct xdp_md *x, __u64 flags, struct bpf_dynptr *ptr__uninit) __ksym;
extern __u32 bpf_dynptr_size(const struct bpf_dynptr *p) __ksym;
extern int bpf_ts_no_such_kfunc(int x) __ksym __weak;

/* struct bpf_dynptr is 16 bytes, 8-aligned (opaque to programs). */
struct dynptr_storage { __u64 a, b; };

SEC("xdp")
int xdp_dynptr_len(struct xdp_md *ctx)
{
	struct dynptr_storage d = {};

	if (bpf_dynptr_from_xdp(ctx, 0, (struct bpf_dynptr *)&d))
		return XDP_ABORTED;
	return bpf_dynptr_size((struct bpf_dynptr *)&d) == 60 ? XDP_DROP : XDP_PASS;
}

__u32 weak_seen = 7;

SEC("xdp")
int xdp_weak_missing(struct xdp_md *ctx)
{
	if (!!bpf_ts_no_such_kfunc) {
		weak_seen = 1;
		return bpf_ts_no_such_kfunc(1) ? XDP_DROP : XDP_TX;
	}
	weak_seen = 0;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
