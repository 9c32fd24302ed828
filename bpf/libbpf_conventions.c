// libbpf_conventions.c - what objects written for libbpf 1.x rely on the
// loader to do, each in a program or map of its own (found by loading the
// kernel's BPF selftests with libbpf and with bpf-ts side by side):
//  - opt_in: SEC("?xdp"), libbpf's "not loaded unless asked for" prefix.
//  - flavored_kfunc: a __weak kfunc declared under a flavor name
//    (bpf_dynptr_size___mine): the loader resolves bpf_dynptr_size. Returns
//    XDP_PASS when it did (the call ran), XDP_DROP when the symbol read 0.
//  - flavor_mismatch: the same kfunc under a flavor whose prototype differs
//    from the kernel's (an extra argument): a __weak one stays unresolved, as
//    libbpf leaves it; returns XDP_PASS when the symbol reads 0. Its call is
//    poisoned with the extern's index in libbpf's sorted extern table.
//  - hidden_fill: calls a global subprogram with hidden visibility that
//    writes through its pointer argument unchecked; the verifier accepts it
//    only when the loader hands the kernel its FUNC as static, as libbpf does.
//  - storage_count: a socket-local storage map without max_entries (the
//    kernel wants 0 for that map type).
//  - events: a ring buffer of 1000 bytes (libbpf rounds it to one page).
//  - seen_ports: a bloom filter whose map_extra uses libbpf 1.4's __ulong().
//  - locked_inner: a spin lock in the value of a map-in-map's inner map
//    (its BTF must reach the inner template).
//  - add_args: SEC("syscall"), run with only a context.
//  - throws: bpf_throw()s for frames over 100 bytes; its exception callback
//    (named by a BTF decl tag, called by nothing) must be appended to it.
//  - arena_page: allocates a page of an arena declared without map_extra,
//    which the verifier accepts only once the loader has mmap'd the arena.
//  - call_order: calls first_a (which calls leaf_c) and then second_b; libbpf
//    appends subprograms depth-first (first_a, leaf_c, second_b), and the
//    program tag depends on that order.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAP_TYPE_BLOOM_FILTER 30

// libbpf 1.4's bpf_helpers.h: a member of an anonymous enum whose only value is N.
#undef __ulong
#define __ulong(name, val) enum { ___bpf_concat(__unique_value, __COUNTER__) = val } name

struct bpf_dynptr;
extern int bpf_dynptr_from_xdp(struct xdp_md *x, __u64 flags, struct bpf_dynptr *ptr__uninit) __ksym;
extern __u32 bpf_dynptr_size___mine(const struct bpf_dynptr *p) __ksym __weak;
extern __u32 bpf_dynptr_size___two_args(const struct bpf_dynptr *p, int extra) __ksym __weak;

struct dynptr_storage { __u64 a, b; };

SEC("?xdp")
int opt_in(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int flavored_kfunc(struct xdp_md *ctx)
{
	struct dynptr_storage d = {};

	if (!bpf_dynptr_size___mine)
		return XDP_DROP;
	if (bpf_dynptr_from_xdp(ctx, 0, (struct bpf_dynptr *)&d))
		return XDP_ABORTED;
	return bpf_dynptr_size___mine((struct bpf_dynptr *)&d) > 0 ? XDP_PASS : XDP_ABORTED;
}

SEC("xdp")
int flavor_mismatch(struct xdp_md *ctx)
{
	struct dynptr_storage d = {};

	/* Unresolved: the call below is dead code, poisoned with the extern's index in libbpf's table. */
	if (bpf_dynptr_size___two_args)
		return bpf_dynptr_size___two_args((struct bpf_dynptr *)&d, 1) ? XDP_DROP : XDP_ABORTED;
	return XDP_PASS;
}

__attribute__((noinline, visibility("hidden"))) int fill(struct xdp_md *ctx, long *res)
{
	*res = ctx->data_end - ctx->data;
	return 0;
}

SEC("xdp")
int hidden_fill(struct xdp_md *ctx)
{
	long len = 0;

	fill(ctx, &len);
	return len >= 64 ? XDP_PASS : XDP_DROP;
}

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} bytes_per_socket SEC(".maps");

SEC("cgroup_skb/egress")
int storage_count(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	__u64 *bytes;

	if (!sk)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 1;
	bytes = bpf_sk_storage_get(&bytes_per_socket, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (bytes)
		__sync_fetch_and_add(bytes, skb->len);
	return 1;
}

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1000);
} events SEC(".maps");

SEC("xdp")
int ring_len(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;

	bpf_ringbuf_output(&events, &len, sizeof(len), 0);
	return XDP_PASS;
}

struct {
	__uint(type, MAP_TYPE_BLOOM_FILTER);
	__type(value, __u32);
	__uint(max_entries, 64);
	__ulong(map_extra, 3); /* hash functions */
} seen_ports SEC(".maps");

struct inner_value {
	struct bpf_spin_lock lock;
	__u32 count;
};

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct inner_value);
	__uint(max_entries, 1);
} inner_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, 1);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = { [0] = &inner_counts },
};

SEC("tc")
int locked_inner(struct __sk_buff *skb)
{
	__u32 key = 0, port = skb->len;
	struct inner_value *v;
	void *inner;

	bpf_map_push_elem(&seen_ports, &port, 0);
	inner = bpf_map_lookup_elem(&outer, &key);
	if (!inner)
		return 0;
	v = bpf_map_lookup_elem(inner, &key);
	if (!v)
		return 0;
	bpf_spin_lock(&v->lock);
	v->count++;
	bpf_spin_unlock(&v->lock);
	return 0;
}

struct add_args {
	int a;
	int b;
	int sum;
};

SEC("syscall")
int add_args(struct add_args *args)
{
	args->sum = args->a + args->b;
	return args->a * 2;
}

static __attribute__((noinline)) int leaf_c(int x)
{
	return x * 3;
}

static __attribute__((noinline)) int first_a(int x)
{
	return leaf_c(x) + 1;
}

static __attribute__((noinline)) int second_b(int x)
{
	return x - 2;
}

SEC("tc")
int call_order(struct __sk_buff *skb)
{
	int n = skb->len;

	return first_a(n) + second_b(n) > 200 ? 2 : 0;
}

#define MAP_TYPE_ARENA 33

struct {
	__uint(type, MAP_TYPE_ARENA);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 2); /* pages; no map_extra: the user address comes from mmap */
} scratch_arena SEC(".maps");

extern void *bpf_arena_alloc_pages(void *map, void *addr, __u32 page_cnt, int node_id, __u64 flags) __ksym;

SEC("syscall")
int arena_page(void *ctx)
{
	void *page = bpf_arena_alloc_pages(&scratch_arena, 0, 1, -1, 0);

	return page ? 1 : 0;
}

extern void bpf_throw(__u64 cookie) __ksym;

__attribute__((noinline)) int throw_cb(__u64 cookie)
{
	return cookie + 100;
}

SEC("tc")
__attribute__((btf_decl_tag("exception_callback:throw_cb")))
int throws(struct __sk_buff *skb)
{
	if (skb->len > 100)
		bpf_throw(7);
	return 1;
}

char _license[] SEC("license") = "GPL";
