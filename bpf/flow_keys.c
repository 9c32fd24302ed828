// flow_keys.c - a BPF flow dissector that fills struct bpf_flow_keys for
// Ethernet frames: up to two VLAN tags, IPv4 (options, fragments), IPv6 (flow
// label, one fragment header) and the TCP/UDP ports, honouring the
// BPF_FLOW_DISSECTOR_F_* flags. Headers come by direct packet access, or by
// bpf_skb_load_bytes when they are not all in the linear data (which a test
// run's dissector cannot do: it has no skb, so that fails and the frame is
// dropped). `stats`: 0 runs, 1 BPF_OK, 2 BPF_DROP, 3 failed bpf_skb_load_bytes
// (one more each run: the EtherType read through it).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct vlan_tag {
	__be16 tci;
	__be16 proto;
};

struct ip4 {
	__u8 ihl_version;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__sum16 check;
	__be32 saddr;
	__be32 daddr;
};

struct ip6 {
	__be32 vtc_flow;
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__be32 saddr[4];
	__be32 daddr[4];
};

struct frag6 {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 id;
};

struct ports {
	__be16 source;
	__be16 dest;
	__u8 rest[8]; // TCP: seq, ack (UDP: length, checksum, and 4 bytes of payload)
	__u8 doff; // TCP data offset in the top nibble
};

static __always_inline void stat(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &slot);

	if (v)
		*v += 1;
}

// The header at off into buf: copied from the packet when all of it is in
// the linear data, else by bpf_skb_load_bytes. 0, or -1 when neither works.
static __always_inline int header(struct __sk_buff *skb, __u16 off, __u16 len, void *buf)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	// Bounded, so the verifier can follow the packet pointer (offsets go up to 0xffff).
	if (off <= 512 && data + off + len <= end) {
		__builtin_memcpy(buf, data + off, len);
		return 0;
	}
	if (bpf_skb_load_bytes(skb, off, buf, len)) {
		stat(3);
		return -1;
	}
	return 0;
}

static __always_inline int done(int verdict)
{
	stat(verdict == BPF_OK ? 1 : 2);
	return verdict;
}

static __always_inline int l4(struct __sk_buff *skb, struct bpf_flow_keys *keys, __u16 off, __u8 proto)
{
	struct ports p;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return done(BPF_OK);
	if (proto == IPPROTO_TCP ? header(skb, off, sizeof(p), &p) : header(skb, off, 4, &p))
		return done(BPF_DROP);
	if (proto == IPPROTO_TCP && (p.doff >> 4) < 5)
		return done(BPF_DROP);
	keys->sport = p.source;
	keys->dport = p.dest;
	return done(BPF_OK);
}

SEC("flow_dissector")
int dissect(struct __sk_buff *skb)
{
	struct bpf_flow_keys *keys = skb->flow_keys;
	__be16 proto = keys->n_proto;
	__u16 off = keys->nhoff;
	int i;

	stat(0);
	// The EtherType again, through the helper: fails in a test run (no skb), counted in stats[3].
	if (bpf_skb_load_bytes(skb, 12, &proto, sizeof(proto)))
		stat(3);
	proto = keys->n_proto;
#pragma unroll
	for (i = 0; i < 2; i++) {
		struct vlan_tag v;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if (header(skb, off, sizeof(v), &v))
			return done(BPF_DROP);
		proto = v.proto;
		off += sizeof(v);
	}
	keys->n_proto = proto;
	keys->nhoff = off;
	keys->thoff = off;

	if (proto == bpf_htons(ETH_P_IP)) {
		struct ip4 ip;
		__u8 ihl;

		if (header(skb, off, sizeof(ip), &ip))
			return done(BPF_DROP);
		ihl = ip.ihl_version & 0xf;
		if (ihl < 5)
			return done(BPF_DROP);
		keys->addr_proto = ETH_P_IP;
		keys->ipv4_src = ip.saddr;
		keys->ipv4_dst = ip.daddr;
		keys->ip_proto = ip.protocol;
		off += ihl << 2;
		keys->thoff = off;
		if (ip.frag_off & bpf_htons(0x3fff)) { // MF or an offset
			keys->is_frag = 1;
			if (ip.frag_off & bpf_htons(0x1fff))
				return done(BPF_OK); // not the first fragment: no ports
			keys->is_first_frag = 1;
			if (!(keys->flags & BPF_FLOW_DISSECTOR_F_PARSE_1ST_FRAG))
				return done(BPF_OK);
		}
		if (ip.protocol == IPPROTO_IPIP || ip.protocol == IPPROTO_IPV6) {
			keys->is_encap = 1;
			return done(BPF_OK);
		}
		return l4(skb, keys, off, ip.protocol);
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ip6 ip6;
		__u8 next;

		if (header(skb, off, sizeof(ip6), &ip6))
			return done(BPF_DROP);
		keys->addr_proto = ETH_P_IPV6;
		__builtin_memcpy(keys->ipv6_src, ip6.saddr, 16);
		__builtin_memcpy(keys->ipv6_dst, ip6.daddr, 16);
		keys->flow_label = ip6.vtc_flow & bpf_htonl(0xfffff);
		next = ip6.nexthdr;
		keys->ip_proto = next;
		off += sizeof(ip6);
		keys->thoff = off;
		if (keys->flow_label && (keys->flags & BPF_FLOW_DISSECTOR_F_STOP_AT_FLOW_LABEL))
			return done(BPF_OK);
		if (next == 44) { // IPPROTO_FRAGMENT (linux/in6.h)
			struct frag6 fh;

			if (header(skb, off, sizeof(fh), &fh))
				return done(BPF_DROP);
			next = fh.nexthdr;
			keys->ip_proto = next;
			keys->is_frag = 1;
			off += sizeof(fh);
			keys->thoff = off;
			if (fh.frag_off & bpf_htons(0xfff8))
				return done(BPF_OK);
			keys->is_first_frag = 1;
			if (!(keys->flags & BPF_FLOW_DISSECTOR_F_PARSE_1ST_FRAG))
				return done(BPF_OK);
		}
		return l4(skb, keys, off, next);
	}
	// Neither IP version: leave it to the kernel's own dissector.
	return done(BPF_DROP);
}

char _license[] SEC("license") = "GPL";
