/* Benchmark: a byte-wise 16-bit ones'-complement sum over the frame (up to
 * 1500 bytes), one bounds-checked byte load per iteration. */
#include "xebpf/bpf.h"

__u32 last_sum;

SEC("xdp")
int bench_checksum(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *data_end = (void *)(long)ctx->data_end;
	__u32 sum = 0;
	for (__u32 i = 0; i < 1500; i++) {
		__u8 *p = data + i;
		if (p + 1 > data_end)
			break;
		sum += (i & 1) ? *p : (__u32)*p << 8;
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	last_sum = ~sum & 0xffff;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
