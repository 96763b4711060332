/* Packet pointers and packet views that outlive a change of the packet. */
#include "hostile.h"

/* A packet pointer taken before bpf_xdp_adjust_head, used after it (Linux
 * invalidates every packet pointer when the packet moves). */
SEC("xdp")
int stale_after_adjust_head(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	if (data + 14 > end)
		return NOT_REACHED;
	if (bpf_xdp_adjust_head(ctx, -32))
		return NOT_REACHED;
	return *(volatile __u8 *)data == 0x5a ? ESCAPED : NOT_REACHED;
}

/* The same after a bpf_xdp_adjust_head that fails: Linux invalidates the
 * packet pointers after any call of a helper that may change the packet,
 * whatever it returns. */
SEC("xdp")
int stale_after_failed_adjust_head(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	if (data + 14 > end)
		return NOT_REACHED;
	if (!bpf_xdp_adjust_head(ctx, 1 << 20))
		return NOT_REACHED;
	return *(volatile __u8 *)data == 0x5a ? ESCAPED : NOT_REACHED;
}

/* LD_ABS past the end of a packet that bpf_skb_change_tail shortened:
 * Linux ends the program with 0. The harness's packet holds 0x5a at
 * offset 60. */
SEC("tc")
int ld_abs_after_change_tail(struct __sk_buff *skb)
{
	if (bpf_skb_change_tail(skb, 34, 0))
		return NOT_REACHED;
	return load_byte(skb, 60) == 0x5a ? ESCAPED : NOT_REACHED;
}
