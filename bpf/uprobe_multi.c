// uprobe_multi.c - uprobe.multi / uretprobe.multi / kprobe.multi programs:
// one link, many attach points, each with its own cookie.
//
// counts[] slots (u64), for the test process only (its tgid in .rodata):
//   0 entries seen by umulti_entry      2 returns seen by umulti_return
//   1 sum of their attach cookies       3 sum of the returns' cookies
//   4 kmulti_entry hits (any task: the kernel here has no fprobe, so never)
// umulti_auto's section names its targets (libc's functions matching getpp*:
// getppid), as libbpf spells it, for auto-attach.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 target_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline void bump(__u32 slot, __u64 by)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);

	if (v)
		__sync_fetch_and_add(v, by);
}

static __always_inline int mine(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

SEC("uprobe.multi")
int umulti_entry(void *ctx)
{
	if (mine()) {
		bump(0, 1);
		bump(1, bpf_get_attach_cookie(ctx));
	}
	return 0;
}

SEC("uretprobe.multi")
int umulti_return(void *ctx)
{
	if (mine()) {
		bump(2, 1);
		bump(3, bpf_get_attach_cookie(ctx));
	}
	return 0;
}

SEC("uprobe.multi/libc.so.6:getpp*")
int umulti_auto(void *ctx)
{
	if (mine())
		bump(0, 1);
	return 0;
}

SEC("kprobe.multi/do_getpgid")
int kmulti_entry(void *ctx)
{
	bump(4, 1);
	return 0;
}

char _license[] SEC("license") = "GPL";
