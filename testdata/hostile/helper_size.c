/* Helper arguments whose size runs past their buffer. */
#include "hostile.h"

/* 4096 bytes into a 16-byte stack buffer, which lies 16 bytes below the
 * top of the stack. */
SEC("raw")
int probe_read_big(void *ctx)
{
	__u8 buf[16];
	bpf_probe_read_kernel(buf, 4096, ctx);
	return buf[0] == 0 ? ESCAPED : NOT_REACHED;
}

SEC("tc")
int skb_load_bytes_huge(struct __sk_buff *skb)
{
	__u8 buf[16];
	bpf_skb_load_bytes(skb, 0, buf, 0xffffffff);
	return buf[0] == 0 ? ESCAPED : NOT_REACHED;
}

SEC("xdp")
int xdp_store_bytes_huge(struct xdp_md *ctx)
{
	__u8 buf[16] = {};
	bpf_xdp_store_bytes(ctx, 0, buf, 0xffff);
	return ESCAPED;
}
