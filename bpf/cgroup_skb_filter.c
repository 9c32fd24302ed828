// cgroup_skb_filter.c - a cgroup skb egress filter: counts packets and bytes
// per IP protocol, drops UDP to port 53 unless it goes to 10.0.0.53, and
// marks TCP with 0x1000 | the destination port's low byte.
//
// It sees the packet from its network header (data/data_end), reads the
// transport header with bpf_skb_load_bytes, and skb->protocol, len, family
// and remote_ip4 (the test run's socket: the IP header's destination).
// Returns 1 (allow) or 0 (drop).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct counter {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct counter);
} by_proto SEC(".maps");

SEC("cgroup_skb/egress")
int egress_filter(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct iphdr *ip = data;
	struct counter *c;
	__u32 key;

	if (skb->protocol != bpf_htons(ETH_P_IP) || skb->family != 2 /* AF_INET */)
		return 1;
	if ((void *)(ip + 1) > data_end)
		return 1;
	key = ip->protocol;
	c = bpf_map_lookup_elem(&by_proto, &key);
	if (c) {
		__sync_fetch_and_add(&c->packets, 1);
		__sync_fetch_and_add(&c->bytes, skb->len);
	}
	if (ip->protocol == IPPROTO_UDP) {
		struct udphdr udp;

		if (bpf_skb_load_bytes(skb, ip->ihl * 4, &udp, sizeof(udp)))
			return 1;
		if (udp.dest == bpf_htons(53) && skb->remote_ip4 != bpf_htonl(0x0a000035))
			return 0;
	}
	if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr tcp;

		if (bpf_skb_load_bytes(skb, ip->ihl * 4, &tcp, sizeof(tcp)) == 0)
			skb->mark = 0x1000 | (bpf_ntohs(tcp.dest) & 0xff);
	}
	return 1;
}

char _license[] SEC("license") = "GPL";
