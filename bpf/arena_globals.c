// arena_globals.c - global variables that live in a BPF arena: clang 18 and
// later put address_space(1) globals in section .addr_space.1 and reach them
// through addr_space_cast; the loader places them at the end of the object's
// arena and writes their initial values there, as libbpf does. clang 14 knows
// no arenas: it puts the same globals in .data, and the program behaves the
// same through a data map.
//  - bump: hits (starts at 5) + 1 on every run; returns hits * 10 + totals[2]
//    (totals starts as {1, 2, 3, 4}): 63, 73, 83, …
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAP_TYPE_ARENA 33
#define __arena __attribute__((address_space(1)))

struct {
	__uint(type, MAP_TYPE_ARENA);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 2); /* pages; no map_extra: mapped by the loader */
} arena SEC(".maps");

int __arena hits = 5;
long __arena totals[4] = { 1, 2, 3, 4 };

SEC("syscall")
int bump(void *ctx)
{
	hits++;
	return hits * 10 + totals[2];
}

char _license[] SEC("license") = "GPL";
