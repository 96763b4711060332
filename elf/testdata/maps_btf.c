// BTF map-in-map and program array with initial slots, and a __kconfig extern.
#include "common.h"

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 3);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = { [0] = &inner_a, [2] = &inner_b },
};

int tail(void *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__array(values, int(void *));
} jumps SEC(".maps") = {
	.values = { [1] = (void *)&tail },
};

extern __u32 LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_NOT_THERE __kconfig __weak;

SEC("socket")
int tail(void *ctx)
{
	return LINUX_KERNEL_VERSION + CONFIG_NOT_THERE;
}

SEC("socket")
int entry(void *ctx)
{
	__u32 k = 0;
	void *m = bpf_map_lookup_elem(&outer, &k);
	if (!m)
		return 0;
	bpf_tail_call(ctx, &jumps, 1);
	return 1;
}

char _license[] SEC("license") = "GPL";
