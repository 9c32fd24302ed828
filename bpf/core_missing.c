// core_missing.c - a CO-RE relocation that cannot be satisfied.
//
// task_struct___missing matches the kernel's task_struct by name (the
// ___suffix is a "flavour" and is ignored), but the kernel's struct has no
// no_such_field_xyz, so the field-offset relocation has no target.  The read
// is unconditional, so a loader must fail, and its error should name
// task_struct___missing / no_such_field_xyz.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct___missing {
	int no_such_field_xyz;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} out SEC(".maps");

SEC("raw_tracepoint/sys_enter")
int read_missing(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct___missing *t = (void *)bpf_get_current_task();
	__u32 zero = 0;
	__u64 val = BPF_CORE_READ(t, no_such_field_xyz);

	bpf_map_update_elem(&out, &zero, &val, BPF_ANY);
	return 0;
}

char _license[] SEC("license") = "GPL";
