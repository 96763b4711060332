// XDP program with a BTF hash map, global data and a .text subprogram.
#include "common.h"

struct xdp_md {
	__u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

__u64 packets = 7;           /* .data */
const volatile __u32 limit = 42; /* .rodata */
__u32 dropped;               /* .bss */

__attribute__((noinline)) int classify(__u32 len)
{
	if (len > limit)
		return 1;
	return 2;
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	__u32 key = ctx->ingress_ifindex;
	__u64 *v = bpf_map_lookup_elem(&counts, &key);
	if (v)
		*v += 1;
	packets++;
	if (classify(ctx->data_end - ctx->data) == 1) {
		dropped++;
		return 1; /* XDP_DROP */
	}
	return 2; /* XDP_PASS */
}

char _license[] SEC("license") = "GPL";
