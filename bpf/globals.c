// globals.c - exercises libbpf-style global data: .rodata, .data and .bss
// each become a single-entry array map, and instructions reference them via
// ld_imm64 with BPF_PSEUDO_MAP_VALUE + offset.
//
// Behaviour (for BPF_PROG_TEST_RUN):
//   every run:   hits[0]++ and seen_total++ (starts at 7)
//   UDP to drop_port (when drop_port != 0): hits[1]++, XDP_DROP
//   otherwise:   verbose ? XDP_DROP : XDP_PASS
// so a test can flip the verdict by patching .rodata before loading.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// const volatile: read-only for the program (→ .rodata, frozen map) but the
// compiler must not constant-fold the 0, so the loader can change it.
const volatile __u32 drop_port = 0;   // host byte order; 0 = disabled
const volatile __u8 verbose = 0;

__u64 seen_total = 7;                 // non-zero → lands in .data
__u64 hits[4];                        // zero → lands in .bss

SEC("xdp")
int xdp_globals(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct udphdr *udp = (void *)(iph + 1);

	__sync_fetch_and_add(&hits[0], 1);
	__sync_fetch_and_add(&seen_total, 1);

	// Only option-less IPv4 is parsed; good enough for a fixture.
	if (drop_port && (void *)(udp + 1) <= data_end &&
	    eth->h_proto == bpf_htons(ETH_P_IP) && iph->ihl == 5 &&
	    iph->protocol == IPPROTO_UDP &&
	    udp->dest == bpf_htons((__u16)drop_port)) {
		__sync_fetch_and_add(&hits[1], 1);
		return XDP_DROP;
	}

	return verbose ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
