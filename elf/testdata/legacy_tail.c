/* Legacy section conventions: Cilium's entry sections, its XDP programs in
 * "from-netdev", and iproute2's numbered tail-call sections "ID/KEY" with
 * the 28-byte struct bpf_elf_map of older iproute2 (and Cilium). Built by
 * TestLegacyTailCalls with clang-19. */
#include "common.h"

struct bpf_elf_map {
	__u32 type, size_key, size_value, max_elem, flags, id, pinning;
};

#define PROG_ARRAY(name, ident) \
	struct bpf_elf_map SEC("maps") name = { \
		.type = BPF_MAP_TYPE_PROG_ARRAY, .size_key = 4, .size_value = 4, .max_elem = 32, .id = ident, \
	}

PROG_ARRAY(calls, 2);     /* TC programs tail-call through it */
PROG_ARRAY(xdp_calls, 3); /* an XDP program does */
PROG_ARRAY(orphans, 4);   /* nobody does */
PROG_ARRAY(mixed, 5);     /* programs of both types do */

struct xdp_md {
	__u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex;
};

struct __sk_buff {
	__u32 len, pkt_type, mark, queue_mapping, protocol, vlan_present, vlan_tci, vlan_proto;
	__u32 priority, ingress_ifindex, ifindex, tc_index, cb[5], hash, tc_classid, data, data_end;
};

SEC("from-container")
int entry(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &calls, 7);
	bpf_tail_call(skb, &mixed, 0);
	return 0;
}

SEC("2/7")
int tail7(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &calls, 0x10);
	return 1;
}

SEC("2/0x10")
int tail16(struct __sk_buff *skb)
{
	return 2;
}

/* Cilium's XDP entry point kept its TC entry's section name. */
SEC("from-netdev")
int xdp_entry(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	if (data + 14 > end)
		return 1;
	bpf_tail_call(ctx, &xdp_calls, 1);
	bpf_tail_call(ctx, &mixed, 0);
	return 2;
}

/* ... and a TC program in the same section reads __sk_buff's data. */
SEC("from-netdev")
int tc_entry(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	return data + 14 > end;
}

SEC("3/1")
int xdp_tail(struct xdp_md *ctx)
{
	return 2;
}

SEC("4/0")
int orphan(void *ctx)
{
	return 3;
}

SEC("5/0")
int contested(void *ctx)
{
	return 4;
}

char _license[] SEC("license") = "GPL";
