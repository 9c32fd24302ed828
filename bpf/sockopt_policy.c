// sockopt_policy.c - cgroup sockopt programs (BPF_PROG_TYPE_CGROUP_SOCKOPT):
// what the cgroup's processes may set and see of their sockets' options.
// `set` (cgroup/setsockopt): SO_MARK above `max_mark` is lowered to it;
// SO_PRIORITY above 6 is refused (EPERM, or EACCES with `priority_eacces`)
// and otherwise passed on as the caller gave it (optlen 0); IP_TOS is
// answered by the program alone (optlen -1: the kernel keeps its TOS);
// TCP_CONGESTION "cubic" becomes "reno"; SO_RCVBUF becomes SO_SNDBUF (level
// and optname rewritten); level SOL_CUSTOM is kept by the program in
// `custom`. `get` (cgroup/getsockopt): SO_MARK reads 0 (hidden); SOL_CUSTOM
// reads `custom` back, clearing the kernel's ENOPROTOOPT (retval 0), and its
// optname 2 clears the error only (optlen 0: the caller's buffer untouched);
// SO_KEEPALIVE scribbles on the buffer but leaves optlen 0 (the kernel's
// answer stands); IP_TTL is refused with `ttl_denied`. Either leaves any other option alone unless
// `bad_optlen` is set: then it writes that optlen (past the buffer: EFAULT).
// `seen` holds what the last program read; `calls` counts each.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define SOL_SOCKET 1
#define SOL_IP 0
#define SOL_TCP 6
#define SOL_CUSTOM 0xdeadbeef
#define SO_SNDBUF 7
#define SO_RCVBUF 8
#define SO_KEEPALIVE 9
#define SO_PRIORITY 12
#define SO_MARK 36
#define IP_TOS 1
#define IP_TTL 2
#define TCP_CONGESTION 13
#define EACCES 13

struct seen {
	__s32 level, optname, optlen, retval;
	__u32 cap, family, type, protocol;
	__u8 bytes[16];
};

struct seen seen;
__u64 calls[2];
__u32 max_mark;
__u32 priority_eacces;
__s32 bad_optlen;
__u32 custom;
__u32 ttl_denied;

static __always_inline void record(struct bpf_sockopt *ctx, __u8 *optval, __u8 *end)
{
	__builtin_memset(&seen, 0, sizeof(seen));
	seen.level = ctx->level;
	seen.optname = ctx->optname;
	seen.optlen = ctx->optlen;
	seen.cap = end - optval;
	seen.family = ctx->sk->family;
	seen.type = ctx->sk->type;
	seen.protocol = ctx->sk->protocol;
	for (int i = 0; i < 16; i++) {
		if (optval + i + 1 > end)
			break;
		seen.bytes[i] = optval[i];
	}
}

SEC("cgroup/setsockopt")
int set(struct bpf_sockopt *ctx)
{
	__u8 *optval = ctx->optval, *end = ctx->optval_end;

	record(ctx, optval, end);
	seen.retval = bpf_get_retval();
	calls[0]++;
	if (ctx->level == SOL_SOCKET && ctx->optname == SO_MARK) {
		if (optval + 4 > end)
			return 0;
		if (*(__u32 *)optval > max_mark)
			*(__u32 *)optval = max_mark;
		return 1;
	}
	if (ctx->level == SOL_SOCKET && ctx->optname == SO_PRIORITY) {
		if (optval + 4 > end)
			return 0;
		if (*(__u32 *)optval > 6) {
			if (priority_eacces)
				bpf_set_retval(-EACCES);
			return 0;
		}
		ctx->optlen = 0;
		return 1;
	}
	if (ctx->level == SOL_IP && ctx->optname == IP_TOS) {
		ctx->optlen = -1;
		return 1;
	}
	if (ctx->level == SOL_TCP && ctx->optname == TCP_CONGESTION) {
		if (optval + 6 > end)
			return 0;
		if (optval[0] == 'c' && optval[1] == 'u' && optval[2] == 'b' && optval[3] == 'i' && optval[4] == 'c') {
			optval[0] = 'r';
			optval[1] = 'e';
			optval[2] = 'n';
			optval[3] = 'o';
			optval[4] = 0;
			ctx->optlen = 5;
		}
		return 1;
	}
	if (ctx->level == SOL_SOCKET && ctx->optname == SO_RCVBUF) {
		ctx->optname = SO_SNDBUF;
		return 1;
	}
	if (ctx->level == SOL_CUSTOM) {
		if (optval + 4 > end)
			return 0;
		custom = *(__u32 *)optval;
		ctx->optlen = -1;
		return 1;
	}
	if (bad_optlen)
		ctx->optlen = bad_optlen;
	return 1;
}

SEC("cgroup/getsockopt")
int get(struct bpf_sockopt *ctx)
{
	__u8 *optval = ctx->optval, *end = ctx->optval_end;

	record(ctx, optval, end);
	seen.retval = ctx->retval;
	calls[1]++;
	if (ctx->level == SOL_SOCKET && ctx->optname == SO_MARK) {
		if (optval + 4 <= end)
			*(__u32 *)optval = 0;
		return 1;
	}
	if (ctx->level == SOL_SOCKET && ctx->optname == SO_KEEPALIVE) {
		// optlen 0: the caller gets the kernel's answer, whatever the buffer holds.
		if (optval + 1 <= end)
			optval[0] = 0xff;
		ctx->optlen = 0;
		return 1;
	}
	if (ctx->level == SOL_CUSTOM && ctx->optname == 2) {
		// No error, and the caller's buffer and length left as they were.
		ctx->retval = 0;
		asm volatile("" ::: "memory"); // two 4-byte stores, not one 8-byte store
		ctx->optlen = 0;
		return 1;
	}
	if (ctx->level == SOL_CUSTOM) {
		if (optval + 4 > end)
			return 0;
		*(__u32 *)optval = custom;
		ctx->optlen = 4;
		// Two 4-byte stores: clang would merge them into one 8-byte store the verifier refuses.
		asm volatile("" ::: "memory");
		ctx->retval = 0;
		return 1;
	}
	if (ctx->level == SOL_IP && ctx->optname == IP_TTL && ttl_denied)
		return 0;
	if (bad_optlen)
		ctx->optlen = bad_optlen;
	return 1;
}

char _license[] SEC("license") = "GPL";
