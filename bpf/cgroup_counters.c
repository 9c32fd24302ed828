// cgroup_counters.c - per-cgroup counters in cgroup local storage
// (BPF_MAP_TYPE_CGROUP_STORAGE and PERCPU_CGROUP_STORAGE, reached with
// bpf_get_local_storage): each cgroup a program is attached to has its own
// value, made when the program is attached, keyed by the cgroup's id and the
// attach type (`counts`, struct bpf_cgroup_storage_key) or by the id alone
// (`bytes`, a u64 key: shared by the attach types). `sysctl_count` counts a
// cgroup's sysctl reads and writes; `egress_count` (cgroup_skb/egress) its
// packets, and the bytes per CPU; each copies the count it reached into
// `last` (a test run's storage is its own, fresh for each run).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct counts {
	__u64 reads, writes, packets;
};

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_STORAGE);
	__type(key, struct bpf_cgroup_storage_key);
	__type(value, struct counts);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE);
	__type(key, __u64);
	__type(value, __u64);
} bytes SEC(".maps");

struct counts last;

SEC("cgroup/sysctl")
int sysctl_count(struct bpf_sysctl *ctx)
{
	struct counts *c = bpf_get_local_storage(&counts, 0);

	if (ctx->write)
		c->writes++;
	else
		c->reads++;
	last = *c;
	return 1;
}

SEC("cgroup_skb/egress")
int egress_count(struct __sk_buff *skb)
{
	struct counts *c = bpf_get_local_storage(&counts, 0);
	__u64 *b = bpf_get_local_storage(&bytes, 0);

	c->packets++;
	*b += skb->len;
	last = *c;
	return 1;
}

char _license[] SEC("license") = "GPL";
