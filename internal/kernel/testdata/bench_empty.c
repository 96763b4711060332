/* Benchmark: the empty XDP program. */
#include "bpf.h"

SEC("xdp")
int bench_empty(struct xdp_md *ctx)
{
	return XDP_PASS;
}
