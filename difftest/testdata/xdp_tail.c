/* Tail calls through a program array: the entry program dispatches on the
 * EtherType (IPv4 to slot 0, IPv6 to slot 1, VLAN to the empty slot 3,
 * anything else to slot 7, out of range); the IPv4 program chains to slot
 * 2 for UDP. Each program records its visit in .bss; a failed tail call
 * falls through. */
#include "xebpf/bpf.h"

int tail_v4(struct xdp_md *ctx);
int tail_v6(struct xdp_md *ctx);
int tail_udp(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int(struct xdp_md *));
} jumps SEC(".maps") = {
	.values = {[0] = (void *)&tail_v4, [1] = (void *)&tail_v6, [2] = (void *)&tail_udp},
};

__u64 visits[4];
__u64 fallthrough;

SEC("xdp")
int xdp_tail_entry(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	if (data + 14 > end)
		return XDP_ABORTED;
	__u16 proto = *(__u16 *)(data + 12);
	__u32 slot = proto == bpf_htons(ETH_P_IP)	  ? 0
		     : proto == bpf_htons(ETH_P_IPV6)	  ? 1
		     : proto == bpf_htons(ETH_P_8021Q) ? 3
						       : 7;
	visits[3]++;
	bpf_tail_call(ctx, &jumps, slot);
	fallthrough++;
	return XDP_PASS;
}

SEC("xdp")
int tail_v4(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	visits[0]++;
	if (data + 34 > end)
		return XDP_DROP;
	if (data[23] == IPPROTO_UDP)
		bpf_tail_call(ctx, &jumps, 2);
	return XDP_TX;
}

SEC("xdp")
int tail_v6(struct xdp_md *ctx)
{
	visits[1]++;
	return 7; /* not an XDP action: returned as is */
}

SEC("xdp")
int tail_udp(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	visits[2] += end - data;
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
