// broken_verifier.c - compiles fine, but the verifier must reject it.
//
// The packet byte is read without first comparing against data_end, so the
// verifier cannot prove the access is in bounds ("invalid access to packet").
// Built with -g, the .BTF.ext line info lets a loader point at the exact
// source line in its error message.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_oob(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;
	unsigned char first;

	first = data[0]; // VERIFIER REJECTS THIS LINE
	return first == 0xff ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
