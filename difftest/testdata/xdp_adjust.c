/* Head, tail and metadata adjustments, by packet kind:
 * - untagged IPv4 UDP: push an 802.1Q tag (adjust_head -4), TX;
 * - 802.1Q-tagged frames: pop the tag (adjust_head +4), PASS;
 * - IPv4 TCP: trim the frame to 60 bytes (adjust_tail), PASS;
 * - IPv4 ICMP: grow by 16 bytes and fill them (adjust_tail), TX;
 * - IPv6: reserve 8 bytes of metadata, write and read them back, PASS;
 * - anything else: impossible adjustments whose errors are kept, DROP. */
#include "xebpf/bpf.h"

long errs[8];
__u64 meta_seen;

SEC("xdp")
int xdp_adjust(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	if (data + 34 > end)
		return XDP_ABORTED;
	__u16 proto = *(__u16 *)(data + 12);
	__u8 l4 = data[23];
	if (proto == bpf_htons(ETH_P_IP) && l4 == IPPROTO_UDP) {
		errs[0] = bpf_xdp_adjust_head(ctx, -4);
		if (errs[0])
			return XDP_ABORTED;
		data = (void *)(long)ctx->data;
		end = (void *)(long)ctx->data_end;
		if (data + 18 > end)
			return XDP_ABORTED;
		__builtin_memmove(data, data + 4, 12);
		*(__u16 *)(data + 12) = bpf_htons(ETH_P_8021Q);
		*(__u16 *)(data + 14) = bpf_htons(100);
		*(__u16 *)(data + 16) = bpf_htons(ETH_P_IP);
		return XDP_TX;
	}
	if (proto == bpf_htons(ETH_P_8021Q)) {
		__builtin_memmove(data + 4, data, 12);
		errs[1] = bpf_xdp_adjust_head(ctx, 4);
		return errs[1] ? XDP_ABORTED : XDP_PASS;
	}
	if (proto == bpf_htons(ETH_P_IP) && l4 == IPPROTO_TCP) {
		int delta = 60 - (int)(end - data);
		errs[2] = bpf_xdp_adjust_tail(ctx, delta);
		return errs[2] ? XDP_DROP : XDP_PASS;
	}
	if (proto == bpf_htons(ETH_P_IP) && l4 == IPPROTO_ICMP) {
		errs[3] = bpf_xdp_adjust_tail(ctx, 16);
		if (errs[3])
			return XDP_DROP;
		data = (void *)(long)ctx->data;
		end = (void *)(long)ctx->data_end;
		__u32 len = (end - data) & 0xfff;
		if (len < 16)
			return XDP_ABORTED;
		__u8 *t = data + (len - 16);
		if (t + 16 > end)
			return XDP_ABORTED;
		for (int i = 0; i < 16; i++)
			t[i] = 0xa0 + i;
		return XDP_TX;
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		errs[4] = bpf_xdp_adjust_meta(ctx, -8);
		if (errs[4])
			return XDP_DROP;
		__u8 *meta = (void *)(long)ctx->data_meta;
		data = (void *)(long)ctx->data;
		end = (void *)(long)ctx->data_end;
		if (meta + 8 > data || data + 22 > end)
			return XDP_ABORTED;
		*(__u32 *)meta = 0xfeedf00d;
		*(__u32 *)(meta + 4) = data[21];
		meta_seen += *(__u32 *)meta + *(__u32 *)(meta + 4);
		return XDP_PASS;
	}
	errs[5] = bpf_xdp_adjust_head(ctx, -300);
	errs[6] = bpf_xdp_adjust_tail(ctx, 4000);
	errs[7] = bpf_xdp_adjust_meta(ctx, -6);
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
