// struct_ops_deferred.c - struct_ops maps a load must not register: the
// kernel lets BPF programs implement struct bpf_dummy_ops so that struct_ops
// programs can be test-run (BPF_PROG_TEST_RUN), and refuses to register it
// (EOPNOTSUPP). libbpf creates the map and loads its programs at load and
// registers at attach; bpf-ts does the same with registerStructOps: false.
// A second map, in "?.struct_ops", is created only when asked for, and its
// program loads only with it. The kernel struct is declared in dummy_ops.h,
// member by member as the kernel's BTF has it (no vmlinux.h needed).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "dummy_ops.h"

// test_1: with a state, return its value plus 7 and leave 3 * value + 1 in
// it; without one (a NULL pointer), return 0x11.
SEC("struct_ops/scale_state")
int scale_state(unsigned long long *ctx)
{
	struct bpf_dummy_ops_state *s = (void *)ctx[0];
	int v;

	if (!s)
		return 0x11;
	v = s->val;
	s->val = v * 3 + 1;
	return v + 7;
}

// test_2: the arguments after the state, each as its C type, summed.
SEC("struct_ops/sum_args")
int sum_args(unsigned long long *ctx)
{
	int a1 = (int)ctx[1];
	unsigned short a2 = (unsigned short)ctx[2];
	char a3 = (char)ctx[3];
	unsigned long a4 = (unsigned long)ctx[4];

	return a1 + a2 + a3 + (int)a4;
}

SEC(".struct_ops")
struct bpf_dummy_ops dummy = {
	.test_1 = (void *)scale_state,
	.test_2 = (void *)sum_args,
};

SEC("struct_ops/optional_state")
int optional_state(unsigned long long *ctx)
{
	return 0x22;
}

SEC("?.struct_ops")
struct bpf_dummy_ops dummy_optional = {
	.test_1 = (void *)optional_state,
};

char LICENSE[] SEC("license") = "GPL";
