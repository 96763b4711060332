// A map of maps whose slots the object fills: outer[0] is inner1 and
// outer[1] inner2. xdp_mim drops when outer[0] holds a map whose entry 0
// is not zero, and passes otherwise. The daemon's durability tests
// delete a slot and check that the slots come back as the daemon left
// them.
#include "xebpf/bpf.h"

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
};

struct inner inner1 SEC(".maps"), inner2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, 2);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = { [0] = &inner1, [1] = &inner2 },
};

SEC("xdp")
int xdp_mim(struct xdp_md *ctx)
{
	__u32 key = 0;
	void *in = bpf_map_lookup_elem(&outer, &key);
	if (!in)
		return XDP_PASS;
	__u64 *v = bpf_map_lookup_elem(in, &key);
	if (v && *v)
		return XDP_DROP;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
