// untyped.c: good.c's XDP program in a section that names no program type
// (iproute2 and Cilium objects name sections freely).
#include "xebpf/bpf.h"

SEC("ingress_filter")
int untyped_checked(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;
	unsigned char *data_end = (void *)(long)ctx->data_end;

	if (data + 14 > data_end)
		return XDP_DROP;
	if (data[12] == 0x08 && data[13] == 0x00)
		return XDP_PASS;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
