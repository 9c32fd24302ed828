// netfilter_drop.c - a BPF netfilter hook (BPF_PROG_TYPE_NETFILTER, Linux
// 6.4+): attached with a bpf_link to one family and hook of one network
// namespace's netfilter (no iptables/nft rule), it returns the verdict like
// any netfilter hook function. This one drops ICMP and accepts the rest,
// counting each in `verdicts` ([0] dropped, [1] accepted).
//
// The context is struct bpf_nf_ctx (the hook state and the sk_buff); the
// packet is read through a dynptr over the skb (the bpf_dynptr_from_skb
// kfunc), from the network header on at the IPv4 hooks.
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>

#define NF_DROP 0
#define NF_ACCEPT 1

struct sk_buff;
struct nf_hook_state;
struct bpf_nf_ctx {
	const struct nf_hook_state *state;
	struct sk_buff *skb;
};

extern int bpf_dynptr_from_skb(struct __sk_buff *skb, __u64 flags, struct bpf_dynptr *ptr__uninit) __ksym;
extern void *bpf_dynptr_slice(const struct bpf_dynptr *ptr, __u32 offset, void *buffer__opt, __u32 buffer__szk) __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} verdicts SEC(".maps");

SEC("netfilter")
int nf_drop_icmp(struct bpf_nf_ctx *ctx)
{
	struct bpf_dynptr ptr;
	// Zeroed: the verifier reads it as the slice's buffer, and only CAP_PERFMON may leave stack uninitialised.
	struct iphdr buf = {};
	const struct iphdr *iph;

	if (bpf_dynptr_from_skb((struct __sk_buff *)ctx->skb, 0, &ptr))
		return NF_ACCEPT;
	iph = bpf_dynptr_slice(&ptr, 0, &buf, sizeof(buf));
	if (!iph)
		return NF_ACCEPT;
	__u32 key = iph->protocol == IPPROTO_ICMP ? 0 : 1;
	__u64 *n = bpf_map_lookup_elem(&verdicts, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
	return key == 0 ? NF_DROP : NF_ACCEPT;
}

char _license[] SEC("license") = "GPL";
