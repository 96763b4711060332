/* Checksums with bpf_csum_diff: verify the IPv4 header checksum, decrement
 * the TTL with an incremental update, sum up to 64 bytes of the L4 payload,
 * and keep the result of invalid calls (a size that is not a multiple of 4).
 * Frames with a bad header checksum are dropped, TTL 0/1 aborted. */
#include "xebpf/bpf.h"

static __always_inline __u16 fold(__s64 csum)
{
	__u64 s = (__u64)csum;
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

__s64 hdr_sum;
__s64 payload_sum;
__s64 bad_size;
__s64 null_from;
__u16 new_check;

SEC("xdp")
int xdp_csum(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	if (data + 34 > end || *(__u16 *)(data + 12) != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	struct iphdr *ip = (void *)(data + 14);
	hdr_sum = bpf_csum_diff(0, 0, (__u32 *)ip, 20, 0);
	if (fold(hdr_sum) != 0xffff)
		return XDP_DROP;
	if (ip->ttl <= 1)
		return XDP_ABORTED;
	__u32 old = *(__u32 *)&ip->ttl; /* ttl, protocol, check */
	ip->ttl--;
	ip->check = 0;
	__u32 mid = *(__u32 *)&ip->ttl;
	__s64 s = bpf_csum_diff(0, 0, (__u32 *)ip, 20, 0);
	ip->check = ~fold(s);
	new_check = ip->check;
	null_from = bpf_csum_diff(0, 0, &old, 4, 0) + bpf_csum_diff(&old, 4, &mid, 4, 0);
	__u8 *pl = data + 34;
	if (pl + 64 <= end)
		payload_sum = bpf_csum_diff(0, 0, (__u32 *)pl, 64, 0x1234);
	else if (pl + 8 <= end)
		payload_sum = bpf_csum_diff(0, 0, (__u32 *)pl, 8, 0);
	__u32 buf[2] = {0x01020304, 0x05060708};
	bad_size = bpf_csum_diff(buf, 6, 0, 0, 0);
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
