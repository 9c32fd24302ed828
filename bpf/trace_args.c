// trace_args.c - tracing programs the emulator must run as the kernel does.
// Each records what it saw in `seen` (its arguments at several widths, the
// task it runs in, probe reads that fail and succeed, the function-argument
// helpers) and returns a value made from its arguments. The tests run them in
// the kernel — raw_args through BPF_PROG_TEST_RUN, fentry3/fexit3 attached to
// bpf_fentry_test3, which a tracing program's test run calls with (4, 5, 6) —
// and in the emulator with the same arguments, and compare `seen`.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define SLOTS 64

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

// fentry3/fexit3 record only this process's calls (other test runs on the
// host call bpf_fentry_test3 too).
const volatile __u32 target_tgid = 0;

static __always_inline void put(__u32 slot, __u64 v)
{
	__u64 *p = bpf_map_lookup_elem(&seen, &slot);

	if (p)
		*p = v;
}

// The task: pid/tgid, uid/gid, comm whole and cut to 5 bytes, cgroup id.
static __always_inline void task(__u32 base)
{
	char comm[16] __attribute__((aligned(8))) = {};
	char cut[8] __attribute__((aligned(8)));

	put(base, bpf_get_current_pid_tgid());
	put(base + 1, bpf_get_current_uid_gid());
	put(base + 2, bpf_get_current_comm(comm, sizeof(comm)));
	put(base + 3, *(__u64 *)comm);
	put(base + 4, *(__u64 *)(comm + 8));
	__builtin_memset(cut, 0xaa, sizeof(cut));
	bpf_get_current_comm(cut, 5);
	put(base + 5, *(__u64 *)cut);
	put(base + 6, bpf_get_current_cgroup_id());
}

// Probe reads of an address the test chooses (one no kernel maps: the result
// is the error and a zeroed buffer, which differs by helper and address).
static __always_inline void probes(__u32 base, __u64 addr)
{
	char str[8] __attribute__((aligned(8)));
	__u64 buf;

	buf = 0x1111;
	put(base, bpf_probe_read_kernel(&buf, sizeof(buf), (void *)addr));
	put(base + 1, buf);
	buf = 0x2222;
	put(base + 2, bpf_probe_read_user(&buf, sizeof(buf), (void *)addr));
	put(base + 3, buf);
	__builtin_memset(str, 0x55, sizeof(str));
	put(base + 4, bpf_probe_read_kernel_str(str, sizeof(str), (void *)addr));
	put(base + 5, *(__u64 *)str);
	__builtin_memset(str, 0x66, sizeof(str));
	put(base + 6, bpf_probe_read_user_str(str, sizeof(str), (void *)addr));
	put(base + 7, *(__u64 *)str);
	buf = 0x3333;
	put(base + 8, bpf_probe_read(&buf, sizeof(buf), (void *)addr));
	put(base + 9, buf);
	__builtin_memset(str, 0x77, sizeof(str));
	put(base + 10, bpf_probe_read_str(str, sizeof(str), (void *)addr));
	put(base + 11, *(__u64 *)str);
}

SEC("raw_tp/sys_enter")
int raw_args(struct bpf_raw_tracepoint_args *ctx)
{
	char name[12] __attribute__((aligned(8))) = "raw_args";
	char str[8] __attribute__((aligned(8)));
	__u64 buf = 0;

	put(0, ctx->args[0]);
	put(1, *(__u32 *)((char *)ctx + 12));
	put(2, *(__u16 *)((char *)ctx + 18));
	put(3, *(__u8 *)((char *)ctx + 31));
	task(4);
	probes(11, ctx->args[1]);
	probes(23, ctx->args[2]);
	// Reads that succeed: this program's own stack is kernel memory.
	put(35, bpf_probe_read_kernel(&buf, 4, name + 2));
	put(36, buf);
	__builtin_memset(str, 0x55, sizeof(str));
	put(37, bpf_probe_read_kernel_str(str, sizeof(str), name));
	put(38, *(__u64 *)str);
	put(39, bpf_probe_read_kernel_str(str, sizeof(str), name + 5));
	put(40, *(__u64 *)str);
	put(41, bpf_get_attach_cookie(ctx));
	return ctx->args[0] + ctx->args[3];
}

SEC("fentry/bpf_fentry_test3")
int BPF_PROG(fentry3, char a, int b, __u64 c)
{
	__u64 v;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	put(42, a);
	put(43, b);
	put(44, c);
	put(45, bpf_get_func_arg_cnt(ctx));
	v = 0x77;
	put(46, bpf_get_func_arg(ctx, 2, &v));
	put(47, v);
	v = 0x77;
	put(48, bpf_get_func_arg(ctx, 3, &v));
	put(49, v);
	put(50, bpf_get_func_ip(ctx));
	task(51);
	return 0;
}

SEC("fexit/bpf_fentry_test3")
int BPF_PROG(fexit3, char a, int b, __u64 c, int ret)
{
	__u64 v = 0x77;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	put(58, ret + a);
	put(59, bpf_get_func_ret(ctx, &v));
	put(60, v);
	put(61, bpf_get_func_arg_cnt(ctx));
	put(62, bpf_get_func_ip(ctx));
	put(63, bpf_get_attach_cookie(ctx));
	return 0;
}

// Programs on a byte context, run by the kernel on a child's calls: a
// uprobe and uretprobe on libc's abs(int) read x86-64 struct pt_regs, a
// tracepoint its record. `regs_seen` holds what they read.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} regs_seen SEC(".maps");

struct pt_regs_x86 {
	__u64 r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};

static __always_inline void rput(__u32 slot, __u64 v)
{
	__u64 *p = bpf_map_lookup_elem(&regs_seen, &slot);

	if (p)
		*p = v;
}

SEC("uprobe")
int abs_entry(struct pt_regs_x86 *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	rput(0, (__s64)(int)ctx->di); // PT_REGS_PARM1 as abs's int
	rput(1, *(__u32 *)((char *)ctx + 112)); // the same register by offset, narrower
	rput(2, bpf_get_current_pid_tgid() >> 32);
	rput(3, bpf_get_attach_cookie(ctx));
	return 0;
}

SEC("uretprobe")
int abs_return(struct pt_regs_x86 *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	rput(4, (__s64)(int)ctx->ax); // PT_REGS_RC
	rput(5, *(__u16 *)((char *)ctx + 80));
	return 0;
}

// syscalls/sys_enter_getppid: 8 bytes of common fields (no program may read
// them), then int __syscall_nr at offset 8.
SEC("tracepoint/syscalls/sys_enter_getppid")
int getppid_record(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	rput(6, *(int *)((char *)ctx + 8));
	rput(7, *(__u8 *)((char *)ctx + 9));
	rput(8, *(__u16 *)((char *)ctx + 10));
	return 0;
}

// The current task as kernel memory: fields read directly through the BTF
// pointer of bpf_get_current_task_btf, and through bpf_get_current_task's
// plain address with probe reads, the way older programs do, and through a
// NULL pointer (a probe load: 0). Offsets are CO-RE relocations
// (preserve_access_index).
struct rt_mutex_waiter {
	struct task_struct *task;
} __attribute__((preserve_access_index));

struct task_struct {
	int pid;
	int tgid;
	char comm[16];
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	struct rt_mutex_waiter *pi_blocked_on; // NULL while the task runs
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} task_seen SEC(".maps");

static __always_inline void tput(__u32 slot, __u64 v)
{
	__u64 *p = bpf_map_lookup_elem(&task_seen, &slot);

	if (p)
		*p = v;
}

SEC("raw_tp/sys_enter")
int task_fields(void *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct task_struct *old = (struct task_struct *)bpf_get_current_task();
	char comm[16] __attribute__((aligned(8))) = {};
	int tgid = 0;

	tput(0, t->pid);
	tput(1, t->tgid);
	__builtin_memcpy(comm, t->comm, sizeof(comm));
	tput(2, *(__u64 *)comm);
	tput(3, t->real_parent->tgid);
	tput(4, t->group_leader->pid);
	tput(5, bpf_probe_read_kernel(&tgid, sizeof(tgid), __builtin_preserve_access_index(&old->tgid)));
	tput(6, tgid);
	// A load through a NULL pointer: the kernel's exception table makes it 0.
	tput(7, (__u64)t->pi_blocked_on->task + 0x1234);
	return 0;
}

char _license[] SEC("license") = "GPL";
