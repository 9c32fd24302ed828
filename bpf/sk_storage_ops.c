// sk_storage_ops.c - socket local storage (BPF_MAP_TYPE_SK_STORAGE) from a
// sock_ops program: `count` (sockops) looks up the socket's struct
// sk_state in `store` on every call with a full socket (ctx->sk), with
// cfg.get_flags in the ops of cfg.create_ops (1: create it when missing),
// from cfg.init (.calls 100, .last_op 99) in the ops of cfg.init_ops; counts
// the call in it and remembers the op; deletes it in the ops of
// cfg.delete_ops. One struct record per call goes to the `calls` ring
// buffer: what the lookup found before the count, and the delete's result.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct sk_state {
	__u32 calls, last_op;
};

struct config {
	__u32 create_ops, init_ops, delete_ops;
	__u64 get_flags;
};

struct record {
	__u32 op, has_sk, got, calls, last_op;
	__s32 del_ret;
	__u64 cookie;
};

struct config cfg;
// Never set: it puts struct record in the BTF, where tests read its layout.
struct record *record_layout;

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sk_state);
} store SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 18);
} calls SEC(".maps");

SEC("sockops")
int count(struct bpf_sock_ops *ctx)
{
	struct sk_state init = { .calls = 100, .last_op = 99 };
	struct record *r = bpf_ringbuf_reserve(&calls, sizeof(*r), 0);
	__u32 op = ctx->op;

	if (!r)
		return 1;
	__builtin_memset(r, 0, sizeof(*r));
	r->op = op;
	r->cookie = bpf_get_socket_cookie(ctx);
	struct bpf_sock *sk = ctx->sk;
	if (sk && op < 32) {
		__u64 flags = (cfg.create_ops >> op) & 1 ? cfg.get_flags : 0;
		struct sk_state *s;

		r->has_sk = 1;
		if ((cfg.init_ops >> op) & 1)
			s = bpf_sk_storage_get(&store, sk, &init, flags);
		else
			s = bpf_sk_storage_get(&store, sk, 0, flags);
		if (s) {
			r->got = 1;
			r->calls = s->calls;
			r->last_op = s->last_op;
			s->calls++;
			s->last_op = op;
		}
		if ((cfg.delete_ops >> op) & 1)
			r->del_ret = bpf_sk_storage_delete(&store, sk);
	}
	bpf_ringbuf_submit(r, 0);
	return 1;
}

char _license[] SEC("license") = "GPL";
