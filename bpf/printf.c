// printf.c - bpf_snprintf with a format set before load (.rodata `fmt`, which
// the verifier checks), so the kernel's formatting can be compared with
// another's. A syscall program: its context carries the twelve arguments in
// and the result and output back.
//
//   args[i] is passed as it is, or, when bit i of `ptrs` is set, as a pointer
//   to text[args[i] & 63] (for %s, %pks, %pI4, %pI6, ...), `text` being
//   copied from the context into .bss first;
//   ret = bpf_snprintf(out, sizeof(out), fmt, args, sizeof(args)), `out`
//   (in .bss) copied to the context's.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct printf_args {
	__u64 args[12];
	__u32 ptrs;
	__s32 ret;
	char text[64];
	char out[256];
};

const volatile char fmt[128] = "%d";
char text[64 + 16];
char out[256]; // helpers write to memory, not to a context: copied into it after


SEC("syscall")
int snprintf_run(struct printf_args *a)
{
	__u64 args[12];

	__builtin_memcpy(text, a->text, 64);
	// Unrolled: the verifier takes context loads at constant offsets only.
#pragma clang loop unroll(full)
	for (int i = 0; i < 12; i++) {
		__u64 v = a->args[i];

		if (a->ptrs & (1u << i))
			v = (__u64)(long)&text[v & 63];
		args[i] = v;
	}
	a->ret = bpf_snprintf(out, sizeof(out), (const char *)fmt, args, sizeof(args));
	__builtin_memcpy(a->out, out, sizeof(out));
	return 0;
}

// bpf_strncmp of the context's text (copied to .bss) against `fmt`: whole
// (64 bytes) into ret, the first 3 bytes into ptrs.
SEC("syscall")
int strncmp_run(struct printf_args *a)
{
	__builtin_memcpy(text, a->text, 64);
	a->ret = bpf_strncmp(text, 64, (const char *)fmt);
	a->ptrs = bpf_strncmp(text, 3, (const char *)fmt);
	return 0;
}

char _license[] SEC("license") = "GPL";
