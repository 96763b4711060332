//go:build ignore

#include "common.h"
#include "bpf_endian.h"

char __license[] SEC("license") = "Dual MIT/GPL";

/* Configuration the Go side sets before loading. */
volatile const __u16 port = 80;
volatile const __u8 drop_matches = 0;

/* State the Go side reads and writes after loading. */
__u64 matched = 0;
__u64 seen = 0;
__u32 last_len;

SEC("xdp")
int filter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	seen++;
	last_len = end - data;
	/* Ethernet, IPv4 without options, TCP. */
	if (data + 14 + 20 + 4 > end)
		return XDP_PASS;
	__u8 *p = data;
	if (p[12] != 0x08 || p[13] != 0x00 || p[23] != 6)
		return XDP_PASS;
	__u16 dport = *(__u16 *)(p + 14 + 20 + 2);
	if (dport != bpf_htons(port))
		return XDP_PASS;
	matched++;
	return drop_matches ? XDP_DROP : XDP_PASS;
}
