/* XDP programs that move the frame's head and tail. */
#include "bpf.h"

/* Prepends a 4-byte tag 0xdeadbeef and appends 6 bytes of 0xaa. */
SEC("xdp")
int xdp_encap(struct xdp_md *ctx)
{
	if (bpf_xdp_adjust_head(ctx, -4))
		return XDP_ABORTED;
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 4 > data_end)
		return XDP_ABORTED;
	*(__u32 *)data = bpf_htons(0xdead) | (bpf_htons(0xbeef) << 16);

	__u32 old_len = data_end - data;
	if (bpf_xdp_adjust_tail(ctx, 6))
		return XDP_ABORTED;
	__u8 fill[6] = {0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa};
	if (bpf_xdp_store_bytes(ctx, old_len, fill, sizeof(fill)))
		return XDP_ABORTED;
	return XDP_TX;
}

/* Strips the Ethernet header and trims the rest to at most 46 bytes. */
SEC("xdp")
int xdp_trim(struct xdp_md *ctx)
{
	if (bpf_xdp_adjust_head(ctx, ETH_HLEN))
		return XDP_ABORTED;
	int len = ctx->data_end - ctx->data;
	if (len > 46 && bpf_xdp_adjust_tail(ctx, 46 - len))
		return XDP_ABORTED;
	return XDP_PASS;
}
