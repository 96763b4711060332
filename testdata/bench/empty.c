/* Benchmark: the empty XDP program. */
#include "xebpf/bpf.h"

SEC("xdp")
int bench_empty(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
