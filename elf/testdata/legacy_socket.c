// Socket filter using a legacy "maps" section of struct bpf_map_def.
#include "common.h"

struct bpf_map_def {
	unsigned int type, key_size, value_size, max_entries, map_flags, inner_map_idx, numa_node;
};

struct bpf_map_def SEC("maps") my_map = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 256,
};

struct bpf_map_def SEC("maps") other_map = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = 8,
	.value_size = 16,
	.max_entries = 1024,
	.map_flags = 1,
	.numa_node = 3,
};

struct __sk_buff { __u32 len; };

SEC("socket1")
int bpf_prog1(struct __sk_buff *skb)
{
	__u32 index = skb->len & 0xff;
	__u64 *value = bpf_map_lookup_elem(&my_map, &index);
	if (value)
		__sync_fetch_and_add(value, skb->len);
	return 0;
}

char _license[] SEC("license") = "GPL";
__u32 _version SEC("version") = 0x040f00;
