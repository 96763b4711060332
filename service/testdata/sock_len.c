// A socket filter that keeps packets of at least a minimum length, read
// from an array map; the daemon's tests load it as the socket-hook object.
#include "xebpf/bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} min_len SEC(".maps");

SEC("socket")
int sock_len(struct __sk_buff *skb)
{
	__u32 zero = 0, *min = bpf_map_lookup_elem(&min_len, &zero);
	if (min && skb->len < *min)
		return 0;
	return skb->len;
}

char _license[] SEC("license") = "Dual BSD/GPL";
