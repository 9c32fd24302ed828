/* dummy_ops.h - the kernel's struct bpf_dummy_ops, member by member as its
 * BTF has it: the struct_ops type the kernel lets BPF programs implement so
 * that they can be test-run, and never registers. */
#ifndef BPFTS_DUMMY_OPS_H
#define BPFTS_DUMMY_OPS_H

struct bpf_dummy_ops_state {
	int val;
};

struct bpf_dummy_ops {
	int (*test_1)(struct bpf_dummy_ops_state *cb);
	int (*test_2)(struct bpf_dummy_ops_state *cb, int a1, unsigned short a2, char a3, unsigned long a4);
	int (*test_sleepable)(struct bpf_dummy_ops_state *cb);
};

#endif
