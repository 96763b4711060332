// Maps of maps whose slots the daemon's clients fill (xebpf map update
// MAP key BYTES value MAP): outer, an array of maps whose slot 0 the
// object fills with inner1, and houter, a hash of maps, both of inner
// maps like struct inner; and maps that do not match that template, one
// way each. xdp_mim_slots drops when outer[0] holds a map whose entry 0
// is not zero, and passes otherwise.
#include "xebpf/bpf.h"

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
};

struct inner inner1 SEC(".maps"), inner2 SEC(".maps"), inner3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} bad_type SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} bad_value SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} bad_entries SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, 2);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = { [0] = &inner1 },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, 4);
	__array(values, struct inner);
} houter SEC(".maps");

SEC("xdp")
int xdp_mim_slots(struct xdp_md *ctx)
{
	__u32 key = 0;
	void *in = bpf_map_lookup_elem(&outer, &key);
	if (!in)
		in = bpf_map_lookup_elem(&houter, &key);
	if (!in)
		return XDP_PASS;
	__u64 *v = bpf_map_lookup_elem(in, &key);
	if (v && *v)
		return XDP_DROP;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
