/* An object of the old loaders: a socket filter counting packets in a
 * legacy "maps" section map (struct bpf_map_def), and a program in a
 * section no convention types ("2/7" without a program array). */
#include "xebpf/bpf.h"

struct bpf_map_def {
	__u32 type, key_size, value_size, max_entries, map_flags;
};

struct bpf_map_def SEC("maps") counts = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = 4,
	.value_size = 8,
	.max_entries = 4,
};

SEC("socket1")
int count(struct __sk_buff *skb)
{
	__u32 key = skb->len > 100;
	__u64 *v = bpf_map_lookup_elem(&counts, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}

SEC("2/7")
int tail(struct __sk_buff *skb)
{
	return skb->len;
}

char _license[] SEC("license") = "GPL";
