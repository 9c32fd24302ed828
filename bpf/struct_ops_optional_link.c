// struct_ops_optional_link.c - a map in "?.struct_ops.link": libbpf neither
// creates it nor loads its program unless asked (autocreate), and once asked
// it is created with BPF_F_LINK (registered through a bpf_link). The kernel
// struct is bpf_dummy_ops (dummy_ops.h).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "dummy_ops.h"

// test_1: 0x33 whatever the state.
SEC("struct_ops/linked_state")
int linked_state(unsigned long long *ctx)
{
	return 0x33;
}

SEC("?.struct_ops.link")
struct bpf_dummy_ops dummy_linked = {
	.test_1 = (void *)linked_state,
};

char LICENSE[] SEC("license") = "GPL";
