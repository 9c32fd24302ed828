// drop_all.c - the smallest possible iproute2-style XDP object.
//
// Deliberately uses no libbpf headers: only the UAPI <linux/bpf.h>, the
// legacy "prog" section name `ip link set dev X xdp obj drop_all.o` looks for
// by default, and a "license" section.  A loader must cope with an object
// that has no maps, no .maps/.BTF map definitions and a section name that
// says nothing about the program type.
#include <linux/bpf.h>

__attribute__((section("prog"), used))
int xdp_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char __license[] __attribute__((section("license"), used)) = "GPL";
