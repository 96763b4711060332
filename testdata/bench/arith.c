/* Benchmark: 1000 rounds of xorshift64 and a multiply, seeded from the
 * packet length. */
#include "xebpf/bpf.h"

__u64 result;

SEC("xdp")
int bench_arith(struct xdp_md *ctx)
{
	__u64 x = ctx->data_end - ctx->data + 0x9e3779b97f4a7c15ULL;
	__u64 acc = 0;
	for (int i = 0; i < 1000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		acc += x * 0x2545f4914f6cdd1dULL;
	}
	result = acc;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
