// externs.c - .kconfig externs and __ksym variables, resolved by the loader
// from the running kernel; xdp_externs copies each into .bss where a test
// reads it back after one test run and compares with /proc/config.gz,
// uname and /proc/kallsyms. xdp_typed_ksym reads a per-CPU kernel variable
// through its BTF id; the kernel also needs its address in kallsyms, which
// only CONFIG_KALLSYMS_ALL kernels list.
#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern bool LINUX_HAS_BPF_COOKIE __kconfig __weak;
extern enum libbpf_tristate CONFIG_BPF_JIT __kconfig;       /* tristate */
extern bool CONFIG_BPF_SYSCALL __kconfig;                    /* bool */
extern int CONFIG_HZ __kconfig;                              /* int */
extern char CONFIG_LOCALVERSION[16] __kconfig __weak;        /* string */
extern bool CONFIG_BPF_TS_NO_SUCH_OPTION __kconfig __weak;   /* absent: 0 */
extern unsigned long long CONFIG_BPF_TS_NO_SUCH_INT __kconfig __weak;

extern const int bpf_prog_active __ksym;                     /* typed: BTF VAR (per-CPU) */
extern const void tcp_v4_connect __ksym;                     /* typeless: /proc/kallsyms */
extern const int bpf_ts_no_such_var __ksym __weak;           /* unresolved weak: 0 */

__u32 out_version, out_hz;
__u8 out_cookie, out_jit, out_syscall, out_missing;
__u64 out_missing_int = 77;
char out_localversion[16];
__u64 out_tcp_v4_connect, out_weak_var;
__u32 out_prog_active_ok = 5;

SEC("xdp")
int xdp_externs(struct xdp_md *ctx)
{
	out_version = LINUX_KERNEL_VERSION;
	out_cookie = LINUX_HAS_BPF_COOKIE;
	out_jit = CONFIG_BPF_JIT;
	out_syscall = CONFIG_BPF_SYSCALL;
	out_hz = CONFIG_HZ;
	out_missing = CONFIG_BPF_TS_NO_SUCH_OPTION;
	out_missing_int = CONFIG_BPF_TS_NO_SUCH_INT;
	__builtin_memcpy(out_localversion, CONFIG_LOCALVERSION, sizeof(out_localversion));
	out_tcp_v4_connect = (__u64)&tcp_v4_connect;
	out_weak_var = (__u64)&bpf_ts_no_such_var;
	return XDP_PASS;
}

SEC("xdp")
int xdp_typed_ksym(struct xdp_md *ctx)
{
	const int *active = bpf_this_cpu_ptr(&bpf_prog_active);

	out_prog_active_ok = active != 0;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
