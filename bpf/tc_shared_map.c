// tc_shared_map.c - iproute2 tc-style byte accounting.
//
// Written the way iproute2's examples were before libbpf: the map is a
// struct bpf_elf_map in the "maps" section (tc's own 9-field layout, not
// libbpf's), helpers are called through function pointers whose "address" is
// the helper id, and program type comes from the caller (tc), not the
// section name.  Both programs share acc_map; PIN_GLOBAL_NS makes tc pin it
// at /sys/fs/bpf/tc/globals/acc_map so repeated loads reuse it.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#define __section(NAME) __attribute__((section(NAME), used))

// iproute2's ELF map descriptor (include/bpf_elf.h); field order matters.
struct bpf_elf_map {
	__u32 type;
	__u32 size_key;
	__u32 size_value;
	__u32 max_elem;
	__u32 flags;
	__u32 id;
	__u32 pinning;
	__u32 inner_id;
	__u32 inner_idx;
};

#define PIN_GLOBAL_NS 2

// Classic helper binding: calling the constant makes clang emit `call N`.
static void *(*bpf_map_lookup_elem)(void *map, const void *key) =
	(void *) BPF_FUNC_map_lookup_elem;

// Slot 0 = ingress bytes, slot 1 = egress bytes.
struct bpf_elf_map acc_map __section("maps") = {
	.type       = BPF_MAP_TYPE_ARRAY,
	.size_key   = sizeof(__u32),
	.size_value = sizeof(__u64),
	.max_elem   = 2,
	.pinning    = PIN_GLOBAL_NS,
};

static __attribute__((always_inline)) int account(struct __sk_buff *skb, __u32 slot)
{
	__u64 *bytes = bpf_map_lookup_elem(&acc_map, &slot);

	// Atomic because ingress/egress can run on several CPUs at once and the
	// array is shared, not per-CPU.
	if (bytes)
		__sync_fetch_and_add(bytes, skb->len);
	return TC_ACT_OK;
}

__section("ingress")
int tc_ingress(struct __sk_buff *skb)
{
	return account(skb, 0);
}

__section("egress")
int tc_egress(struct __sk_buff *skb)
{
	return account(skb, 1);
}

char __license[] __section("license") = "GPL";
