// arena_fixed.c - arena globals in an arena with a fixed user address: its
// map_extra (here 1 << 44, as the kernel's own arena tests choose) is where
// every process that maps the arena sees it, and the only address the
// kernel accepts for that mapping. The loader maps it there to write the
// globals' initial values at the arena's end, as libbpf does (libbpf with
// MAP_FIXED; bpf-ts never over memory the process already uses).
//  - step: count (starts at 40) + 2 on every run; returns count + table[1]
//    (table starts as {100, 200, 300}): 242, 244, 246, …
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAP_TYPE_ARENA 33
#define __arena __attribute__((address_space(1)))
/* libbpf 1.4's __ulong() (this system's bpf_helpers.h predates it): a 64-bit
 * enum member whose value is the field's. */
#undef __ulong
#define __ulong(name, val) enum { ___bpf_concat(__unique_value, __COUNTER__) = val } name

struct {
	__uint(type, MAP_TYPE_ARENA);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 4); /* pages */
	__ulong(map_extra, 1ull << 44);
} arena SEC(".maps");

int __arena count = 40;
int __arena table[3] = { 100, 200, 300 };

SEC("syscall")
int step(void *ctx)
{
	count += 2;
	return count + table[1];
}

char _license[] SEC("license") = "GPL";
