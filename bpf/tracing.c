// tracing.c - one program per tracing attach kind, each counting what the
// test process does (filtered by its tgid, set in .rodata before load).
//
// counts[] slots (u64):
//   0 tracepoint syscalls/sys_enter_getppid      5 sum of uretprobe return values
//   1 raw_tp sys_enter, id == getppid_nr          6 fentry do_getpgid
//   2 tp_btf sys_enter, id == getppid_nr          7 fexit do_getpgid
//   3 uprobe (libc abs)                           8 sum of fexit return values
//   4 uretprobe (libc abs)                        9 perf_event samples (any task)
//  10 lsm file_open
// pt_regs and the iterator context are declared here with the fields used;
// preserve_access_index makes their offsets CO-RE relocations.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 target_tgid = 0;
const volatile __u64 getppid_nr = 110; // x86_64; the test sets its own arch's number

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline int mine(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

static __always_inline void bump(__u32 slot, __u64 by)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);

	if (v)
		__sync_fetch_and_add(v, by);
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int tp_getppid(void *ctx)
{
	if (mine())
		bump(0, 1);
	return 0;
}

SEC("raw_tp/sys_enter")
int rawtp_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	// sys_enter(struct pt_regs *regs, long id)
	if (mine() && ctx->args[1] == getppid_nr)
		bump(1, 1);
	return 0;
}

SEC("tp_btf/sys_enter")
int tpbtf_sys_enter(__u64 *ctx)
{
	if (mine() && ctx[1] == getppid_nr)
		bump(2, 1);
	return 0;
}

// x86_64 struct pt_regs up to ax (the return value register).
struct user_regs_x86_64 {
	__u64 r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax;
};

SEC("uprobe")
int uprobe_abs(struct user_regs_x86_64 *ctx)
{
	if (mine())
		bump(3, 1);
	return 0;
}

SEC("uretprobe")
int uretprobe_abs(struct user_regs_x86_64 *ctx)
{
	if (mine()) {
		bump(4, 1);
		bump(5, ctx->ax);
	}
	return 0;
}

SEC("fentry/do_getpgid")
int fentry_getpgid(__u64 *ctx)
{
	if (mine())
		bump(6, 1);
	return 0;
}

SEC("fexit/do_getpgid")
int fexit_getpgid(__u64 *ctx)
{
	// do_getpgid(pid_t pid) -> int: ctx[0] = pid, ctx[1] = return value
	if (mine()) {
		bump(7, 1);
		bump(8, (__u64)(int)ctx[1]);
	}
	return 0;
}

SEC("perf_event")
int perf_sample(void *ctx)
{
	bump(9, 1);
	return 0;
}

SEC("lsm/file_open")
int lsm_file_open(__u64 *ctx)
{
	if (mine())
		bump(10, 1);
	return 0; // never deny
}

struct seq_file;
struct bpf_iter_meta {
	struct seq_file *seq;
} __attribute__((preserve_access_index));
struct task_struct {
	int pid;
	int tgid;
} __attribute__((preserve_access_index));
struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
} __attribute__((preserve_access_index));

SEC("iter/task")
int iter_tasks(struct bpf_iter__task *ctx)
{
	static const char fmt[] = "%d %d\n";
	struct task_struct *task = ctx->task;
	__u64 args[2];

	if (!task)
		return 0;
	args[0] = task->tgid;
	args[1] = task->pid;
	bpf_seq_printf(ctx->meta->seq, fmt, sizeof(fmt), args, sizeof(args));
	return 0;
}

char _license[] SEC("license") = "GPL";
