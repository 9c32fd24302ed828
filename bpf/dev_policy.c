// dev_policy.c - a cgroup device program (BPF_PROG_TYPE_CGROUP_DEVICE) of
// the kind container runtimes attach to a cgroup v2: `allow` maps a device
// (type BPF_DEVCG_DEV_CHAR or _BLOCK, major, minor; minor 0xffffffff for
// any) to the accesses allowed (BPF_DEVCG_ACC_READ, _WRITE, _MKNOD bits);
// an access the most specific rule does not wholly allow is refused — with
// EACCES (bpf_set_retval) when `deny_eacces` is set, else EPERM. `seen`
// holds what the last run read, access_type also in narrow loads; `calls`
// counts runs by access bits.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define EACCES 13
#define ANY_MINOR 0xffffffff

struct rule_key {
	__u32 type, major, minor;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct rule_key);
	__type(value, __u32);
} allow SEC(".maps");

struct seen {
	__u32 access_type, major, minor;
	__u16 type16, access16;
	__u8 byte0, byte2;
	__u16 pad;
	__u32 verdict, rule_minor;
};

struct seen seen;
__u64 calls[8];
__u32 deny_eacces;

SEC("cgroup/dev")
int dev(struct bpf_cgroup_dev_ctx *ctx)
{
	struct rule_key k = {
		.type = ctx->access_type & 0xffff,
		.major = ctx->major,
		.minor = ctx->minor,
	};
	__u32 access = ctx->access_type >> 16;

	__builtin_memset(&seen, 0, sizeof(seen));
	seen.access_type = ctx->access_type;
	seen.major = ctx->major;
	seen.minor = ctx->minor;
	seen.type16 = *(volatile __u16 *)&ctx->access_type;
	seen.access16 = ((volatile __u16 *)&ctx->access_type)[1];
	seen.byte0 = *(volatile __u8 *)&ctx->access_type;
	seen.byte2 = ((volatile __u8 *)&ctx->access_type)[2];
	calls[access & 7]++;

	__u32 *allowed = bpf_map_lookup_elem(&allow, &k);
	seen.rule_minor = k.minor;
	if (!allowed) {
		k.minor = ANY_MINOR;
		allowed = bpf_map_lookup_elem(&allow, &k);
		seen.rule_minor = allowed ? ANY_MINOR : 0;
	}
	int ok = allowed && (*allowed & access) == access;
	seen.verdict = ok;
	if (!ok && deny_eacces)
		bpf_set_retval(-EACCES);
	return ok;
}

char _license[] SEC("license") = "GPL";
