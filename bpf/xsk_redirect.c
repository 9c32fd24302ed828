// xsk_redirect.c - the XDP half of an AF_XDP socket (src/xsk/).
//
// `xsks` XSKMAP[64]: slot N holds the AF_XDP socket bound to queue N.
// `xdp_xsk_redirect` hands every frame to the socket of the queue it arrived
// on; with that slot empty the frame goes up the stack instead (the low bits
// of bpf_redirect_map's flags are the action for a missing entry, 5.3+).
// `rx_seen` ARRAY[1] counts the frames the program saw, so a test can tell
// "reached the socket" from "never reached XDP".
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} rx_seen SEC(".maps");

SEC("xdp")
int xdp_xsk_redirect(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *seen = bpf_map_lookup_elem(&rx_seen, &zero);

	if (seen)
		__sync_fetch_and_add(seen, 1);
	return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
}

char _license[] SEC("license") = "GPL";
