// icmp_reflector.c - XDP forwarding via the kernel FIB.
//
// (The file name is historical; the program forwards any IPv4 packet.)
// bpf_fib_lookup() asks the routing table + neighbour cache where a packet
// should go; on success we do what the stack would (TTL--, rewrite MACs) and
// redirect through a DEVMAP, whose slots userspace fills with ifindexes
// (key = ifindex = value is the simplest convention).  Redirecting into a
// veth only works if the peer end also has an XDP program attached; that
// is what xdp_pass is for.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define AF_INET 2  // <sys/socket.h> is libc, unusable on a BPF target

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u32);
} tx_ports SEC(".maps");

// Incremental checksum update (RFC 1624) for TTL - 1: the TTL is the high
// byte of its 16-bit word, so the checksum grows by 0x0100 with end-around
// carry.
static __always_inline void ip_decrease_ttl(struct iphdr *iph)
{
	__u32 sum = iph->check + bpf_htons(0x0100);

	iph->check = (__u16)(sum + (sum >> 16));
	iph->ttl--;
}

SEC("xdp")
int xdp_fib_redirect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct bpf_fib_lookup params = {};

	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	// Let the stack deal with expiring packets (it sends the ICMP error).
	if (iph->ttl <= 1)
		return XDP_PASS;

	params.family      = AF_INET;
	params.tos         = iph->tos;
	params.l4_protocol = iph->protocol;
	params.tot_len     = bpf_ntohs(iph->tot_len);
	params.ipv4_src    = iph->saddr;
	params.ipv4_dst    = iph->daddr;
	params.ifindex     = ctx->ingress_ifindex;

	if (bpf_fib_lookup(ctx, &params, sizeof(params), 0) !=
	    BPF_FIB_LKUP_RET_SUCCESS)
		return XDP_PASS;  // no route / no neighbour yet: stack resolves it

	ip_decrease_ttl(iph);
	__builtin_memcpy(eth->h_dest, params.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, params.smac, ETH_ALEN);
	// flags 0: an empty tx_ports slot makes this return XDP_ABORTED.
	return bpf_redirect_map(&tx_ports, params.ifindex, 0);
}

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
