// events_typed.c - a ring buffer event, a hash map and globals whose types
// exercise code generation (bpf-ts gen): a struct with a bitfield, a char
// array and a byte array; a struct key; an array of structs in .bss; a
// string global; a const volatile in .rodata.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct pkt_event {
	__u64 seq;     // 1, 2, 3, ...
	__u32 len;     // frame length
	__u16 proto;   // h_proto as on the wire (network order)
	__u8 flags : 3;
	__u8 kind : 5;
	char tag[6];   // the .rodata tag, NUL padded
	__u8 src[6];   // source MAC
};

struct flow_key {
	__u32 ifindex;
	__u16 proto;
	__u8 pad[2];
};

struct proto_count {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096 * 16);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct flow_key);
	__type(value, struct pkt_event);
} last SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct proto_count);
} totals SEC(".maps");

const volatile char tag[6] = "pkt";
const volatile __u8 kind = 17;
__u64 seq;
struct proto_count per_proto[4];
char last_tag[8] = "none";

SEC("xdp")
int xdp_events(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct flow_key key = {};
	struct pkt_event *e;
	__u32 zero = 0;
	struct proto_count *t;
	int i;

	if (data + 14 > end)
		return XDP_PASS;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return XDP_PASS;
	e->seq = __sync_add_and_fetch(&seq, 1);
	e->len = end - data;
	e->proto = *(__u16 *)(data + 12);
	e->flags = 5;
	e->kind = kind;
	for (i = 0; i < 6; i++) {
		e->tag[i] = tag[i];
		e->src[i] = ((__u8 *)data)[6 + i];
	}
	key.ifindex = ctx->ingress_ifindex;
	key.proto = e->proto;
	bpf_map_update_elem(&last, &key, e, BPF_ANY);
	per_proto[e->len & 3].packets++;
	per_proto[e->len & 3].bytes += e->len;
	t = bpf_map_lookup_elem(&totals, &zero);
	if (t) {
		t->packets++;
		t->bytes += e->len;
	}
	for (i = 0; i < 6; i++)
		last_tag[i] = tag[i];
	bpf_ringbuf_submit(e, 0);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
