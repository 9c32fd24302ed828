// socket_filter.c - socket filters (BPF_PROG_TYPE_SOCKET_FILTER), attached to
// a socket with setsockopt(SO_ATTACH_BPF) rather than to a hook.
//
// `count_protocols` is in the samples/bpf sockex1 style: a legacy `maps`
// section, a "socket1" section name (a prefix libbpf 0.x matched and 1.x
// refuses) and LD_ABS packet reads. On a packet socket (AF_PACKET, SOCK_RAW)
// the packet starts at the Ethernet header; it counts frames and bytes per
// IPv4 protocol and returns 0: the socket itself queues nothing, the
// counters are the point.
//
// `drop_marked` is for a UDP socket: it drops datagrams whose payload starts
// with "drop" and keeps the rest whole. It reads relative to the network
// header, so it works whatever layer the socket's packets start at.
// `reuseport_second` steers a SO_REUSEPORT group (see below).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <stddef.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

// Frames and bytes per IPv4 protocol (1 = ICMP, 6 = TCP, 17 = UDP), both
// directions; a hash, so only the protocols seen have entries.
struct bpf_map_def SEC("maps") packets = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 256,
};

struct bpf_map_def SEC("maps") bytes = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 256,
};

// Datagrams drop_marked dropped and kept.
struct bpf_map_def SEC("maps") verdicts = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 2,
};

static void add(void *map, __u32 key, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(map, &key);
	if (v)
		__sync_fetch_and_add(v, n);
	else
		bpf_map_update_elem(map, &key, &n, BPF_NOEXIST);
}

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");

SEC("socket1")
int count_protocols(struct __sk_buff *skb)
{
	if (load_half(skb, offsetof(struct ethhdr, h_proto)) != ETH_P_IP)
		return 0;
	__u32 proto = load_byte(skb, ETH_HLEN + offsetof(struct iphdr, protocol));
	add(&packets, proto, 1);
	add(&bytes, proto, skb->len);
	return 0;
}

SEC("socket")
int drop_marked(struct __sk_buff *skb)
{
	__u8 vihl;
	char mark[4];
	__u32 key;

	if (bpf_skb_load_bytes_relative(skb, 0, &vihl, 1, BPF_HDR_START_NET))
		return skb->len;
	__u32 payload = (vihl & 0xf) * 4 + sizeof(struct udphdr);
	key = bpf_skb_load_bytes_relative(skb, payload, mark, sizeof(mark), BPF_HDR_START_NET) == 0 &&
	      mark[0] == 'd' && mark[1] == 'r' && mark[2] == 'o' && mark[3] == 'p';
	__u64 *n = bpf_map_lookup_elem(&verdicts, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
	// 0 drops the datagram; any other value keeps that many bytes of it.
	return key ? 0 : skb->len;
}

// As a reuseport program (SO_ATTACH_REUSEPORT_EBPF) a socket filter's
// return value picks the socket of the SO_REUSEPORT group, by the order
// they joined it: every datagram to the second.
SEC("socket")
int reuseport_second(struct __sk_buff *skb)
{
	return 1;
}

char _license[] SEC("license") = "GPL";
