// core_reads.c - one of each CO-RE relocation kind a loader must resolve
// against kernel BTF, with results a test can predict.
//
// Intended trigger: BPF_PROG_TEST_RUN (supported for raw tracepoints, ctx =
// up to 12 u64 args, may be all zero).  Run on the caller's CPU, `current`
// is then the calling thread, so slots 0-2 match the test process itself.
// If instead attached to sys_enter, whichever task last made a syscall wins.
//
// results[] slots (all __u64):
//   0  task->group_leader->pid       == process.pid (nested BPF_CORE_READ)
//   1  task->real_parent->tgid       == process.ppid (nested BPF_CORE_READ)
//   2  task->mm->map_count           > 0 (map_count sits in an anonymous
//                                     struct in recent mm_struct layouts)
//   3  field_exists(task->pid)       == 1
//   4  field_exists(local-only fld)  == 0 (resolves to 0, does not fail)
//   5  type_exists(struct bpf_map)   == 1
//   6  type_exists(local-only type)  == 0
//   7  enum_value(BPF_MAP_TYPE_RINGBUF) == 27
//   8  field_size(task->comm)        == 16
//   9  task->in_execve (bitfield)    == 0 (not inside execve right now)
//  10  ctx viewed as struct iphdr: version (bitfield, high nibble of byte 0)
//  11  ctx viewed as struct iphdr: ihl     (bitfield, low nibble of byte 0)
//      -> test_run with ctx bytes 45 00 00 .. gives 4 and 5; a zero ctx
//         gives 0 and 0.  (task_struct has no bitfield with a value a
//         test can predict, so the test supplies the bits instead.)
//  12  run counter (incremented each run)
//  13  type_size(struct iphdr)       == 20
//  14  enum_value_exists(BPF_MAP_TYPE_RINGBUF) == 1
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

// "Flavours": the ___suffix is ignored when matching against kernel types,
// so these describe a task_struct / type the kernel does not have.
struct task_struct___local {
	int field_that_never_existed;
} __attribute__((preserve_access_index));

struct type_not_in_any_kernel___local {
	int x;
};

static __always_inline void put(__u32 slot, __u64 val)
{
	bpf_map_update_elem(&results, &slot, &val, BPF_ANY);
}

SEC("raw_tracepoint/sys_enter")
int core_reads(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct task_struct___local *ltask = (void *)task;

	put(0, BPF_CORE_READ(task, group_leader, pid));
	put(1, BPF_CORE_READ(task, real_parent, tgid));
	put(2, BPF_CORE_READ(task, mm, map_count));
	put(3, bpf_core_field_exists(task->pid));
	put(4, bpf_core_field_exists(ltask->field_that_never_existed));
	put(5, bpf_core_type_exists(struct bpf_map));
	put(6, bpf_core_type_exists(struct type_not_in_any_kernel___local));
	put(7, bpf_core_enum_value(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF));
	put(8, bpf_core_field_size(task->comm));
	put(9, BPF_CORE_READ_BITFIELD_PROBED(task, in_execve));

	struct iphdr *fake = (void *)ctx;
	put(10, BPF_CORE_READ_BITFIELD_PROBED(fake, version));
	put(11, BPF_CORE_READ_BITFIELD_PROBED(fake, ihl));

	put(13, bpf_core_type_size(struct iphdr));
	put(14, bpf_core_enum_value_exists(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF));

	__u32 slot = 12;
	__u64 *runs = bpf_map_lookup_elem(&results, &slot);
	if (runs)
		__sync_fetch_and_add(runs, 1);
	return 0;
}

char _license[] SEC("license") = "GPL";
