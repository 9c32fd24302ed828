// tailcall.c - tail calls through a PROG_ARRAY that libbpf-style loaders
// populate declaratively: `.values = { [1] = &tail_drop }` makes clang emit
// a relocation in .maps pointing at the program, and the loader must write
// tail_drop's fd into slot 1 after loading both programs.
//
// Test-run: xdp_entry returns XDP_DROP (1) if slot 1 is populated (the tail
// call never returns), XDP_PASS (2) if it is empty.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

int tail_drop(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	// key_size, not __type(key): the kernel refuses BTF key/value types
	// on fd-array maps, and a typed key would make libbpf retry.
	__uint(key_size, sizeof(__u32));
	__array(values, int (void *));
} jmp_table SEC(".maps") = {
	.values = {
		[1] = (void *)&tail_drop,
	},
};

SEC("xdp")
int xdp_entry(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jmp_table, 1);
	return XDP_PASS;  // only reached when slot 1 is empty
}

SEC("xdp")
int tail_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
