/* Benchmark: 1000 array-map lookups in a loop, summing the values. Also
 * defines the hash map of the Go-side lookup benchmark. */
#include "xebpf/bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} hash_table SEC(".maps");

__u64 total;

SEC("xdp")
int bench_array_loop(struct xdp_md *ctx)
{
	__u64 sum = 0;
	for (__u32 i = 0; i < 1000; i++) {
		__u32 k = i & 255;
		__u64 *v = bpf_map_lookup_elem(&table, &k);
		if (v)
			sum += *v;
	}
	total = sum;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
