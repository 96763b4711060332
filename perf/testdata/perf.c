// A program that writes samples to a perf event array, for the perf
// package's tests. It is an XDP program so that the kernel can test-run it
// too. Built by the tests: clang-19 -O2 -g -target bpf -I ../include -c perf.c
#include "xebpf/bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} counts SEC(".maps");

// output writes the packet's first data[0] % 128 bytes as a sample to the
// current CPU's buffer and counts its runs in counts[0]. XDP_DROP tells
// that the output failed (no reader, or the sample was lost).
SEC("xdp")
int output(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&counts, &zero);
	__u64 buf[16];

	if (n)
		__sync_fetch_and_add(n, 1);
	if (data + sizeof(buf) > end)
		return XDP_ABORTED;
	for (int i = 0; i < 16; i++)
		buf[i] = ((__u64 *)data)[i];
	if (bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, buf, ((__u8 *)buf)[0] & 127))
		return XDP_DROP;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
