// connect_sockopt.c - bpf_setsockopt and bpf_getsockopt in a cgroup
// sock_addr program: `connect_opt` (cgroup/connect4) sets the option `req`
// names (level, optname, optlen 1 to 8 bytes of val) on the connecting
// socket, then reads the same option back; `res` holds both results and the
// bytes read.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct req {
	__s32 level, optname;
	__u32 optlen;
	__u8 val[8];
};

struct res {
	__s32 set_ret, get_ret;
	__u8 got[8];
};

struct req req;
struct res res;

SEC("cgroup/connect4")
int connect_opt(struct bpf_sock_addr *ctx)
{
	// 1 to 8 bytes, as the verifier wants a size it can bound.
	__u32 len = ((req.optlen - 1) & 7) + 1;

	res.set_ret = bpf_setsockopt(ctx, req.level, req.optname, req.val, len);
	res.get_ret = bpf_getsockopt(ctx, req.level, req.optname, res.got, len);
	return 1;
}

char _license[] SEC("license") = "GPL";
