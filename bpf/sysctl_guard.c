// sysctl_guard.c - a cgroup sysctl program (BPF_PROG_TYPE_CGROUP_SYSCTL):
// which /proc/sys files the cgroup's processes may read and write, and what
// a write may set. `guard` looks the sysctl's full name ("net/ipv4/ip_forward")
// up in `rules`; a name with no rule is let through. A rule may deny reads,
// deny writes, deny with EACCES instead of EPERM (bpf_set_retval), cap a
// write's number (bpf_strtoul, base from the text: 0x.., 0..): above `max`
// the write is denied, or with RULE_REPLACE replaced by `replace`
// (bpf_sysctl_set_new_value; `replace_len` bytes of it), and move the file position (RULE_POS). `seen`
// holds what the last run read: every helper's return and bytes; `calls`
// counts reads and writes. `probe` reads the name, the current and the new
// value into `probes`' buffers, `size` bytes of each (1 to 64), with
// `flags` for the name, without clearing them first: what the helpers leave
// past a value's end shows.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define NAME_LEN 64
#define VALUE_LEN 32
#define EACCES 13

enum {
	RULE_DENY_READ = 1,
	RULE_DENY_WRITE = 2,
	RULE_REPLACE = 4,
	RULE_POS = 8,
	RULE_EACCES = 16,
};

struct rule {
	__u32 flags;
	__u32 pos;
	__u64 max;
	__u32 replace_len;
	char replace[VALUE_LEN];
};

struct seen {
	__u32 write, file_pos;
	__s32 name_ret, base_ret, cur_ret, new_ret, strtoul_ret, strtol_ret, set_ret, retval;
	unsigned long parsed_u;
	long parsed_s;
	char name[NAME_LEN];
	char base[16];
	char cur[VALUE_LEN];
	char new_value[VALUE_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, char[NAME_LEN]);
	__type(value, struct rule);
} rules SEC(".maps");

struct seen seen;
__u64 calls[2];

SEC("cgroup/sysctl")
int guard(struct bpf_sysctl *ctx)
{
	__builtin_memset(&seen, 0, sizeof(seen));
	seen.write = ctx->write;
	seen.file_pos = ctx->file_pos;
	calls[seen.write ? 1 : 0]++;
	seen.name_ret = bpf_sysctl_get_name(ctx, seen.name, sizeof(seen.name), 0);
	seen.base_ret = bpf_sysctl_get_name(ctx, seen.base, sizeof(seen.base), BPF_F_SYSCTL_BASE_NAME);
	seen.cur_ret = bpf_sysctl_get_current_value(ctx, seen.cur, sizeof(seen.cur));
	seen.new_ret = bpf_sysctl_get_new_value(ctx, seen.new_value, sizeof(seen.new_value));
	seen.retval = bpf_get_retval();
	if (seen.new_ret > 0) {
		seen.strtoul_ret = bpf_strtoul(seen.new_value, sizeof(seen.new_value), 0, &seen.parsed_u);
		seen.strtol_ret = bpf_strtol(seen.new_value, sizeof(seen.new_value), 0, &seen.parsed_s);
	}

	struct rule *r = bpf_map_lookup_elem(&rules, seen.name);
	if (!r)
		return 1;
	if (r->flags & RULE_POS)
		ctx->file_pos = r->pos;
	int deny = seen.write ? r->flags & RULE_DENY_WRITE : r->flags & RULE_DENY_READ;
	if (seen.write && r->max && seen.strtoul_ret > 0 && seen.parsed_u > r->max) {
		if (r->flags & RULE_REPLACE) {
			// 1 to VALUE_LEN bytes, as the verifier wants a size it can bound.
			__u32 len = ((r->replace_len - 1) & (VALUE_LEN - 1)) + 1;
			seen.set_ret = bpf_sysctl_set_new_value(ctx, r->replace, len);
			return 1;
		}
		deny = 1;
	}
	if (deny && (r->flags & RULE_EACCES))
		bpf_set_retval(-EACCES);
	return deny ? 0 : 1;
}

struct probes {
	__u32 size, flags;
	__s32 name_ret, cur_ret, new_ret, pad;
	char name[NAME_LEN];
	char cur[NAME_LEN];
	char new_value[NAME_LEN];
} probes;

SEC("cgroup/sysctl")
int probe(struct bpf_sysctl *ctx)
{
	// 1 to NAME_LEN bytes, as the verifier wants a size it can bound.
	__u32 size = ((probes.size - 1) & (NAME_LEN - 1)) + 1;
	probes.name_ret = bpf_sysctl_get_name(ctx, probes.name, size, probes.flags);
	probes.cur_ret = bpf_sysctl_get_current_value(ctx, probes.cur, size);
	probes.new_ret = bpf_sysctl_get_new_value(ctx, probes.new_value, size);
	return 1;
}

char _license[] SEC("license") = "GPL";
