/* Socket filter: records skb->len and the IP protocol byte (offset 9 from
 * skb->data, the network header), keeps whole UDP packets, drops others. */
#include "bpf.h"

struct seen {
	__u32 len;
	__u32 proto;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct seen);
} last SEC(".maps");

SEC("socket")
int sock_udp(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct seen *s = bpf_map_lookup_elem(&last, &zero);
	__u32 proto = load_byte(skb, 9);
	if (s) {
		s->len = skb->len;
		s->proto = proto;
	}
	return proto == IPPROTO_UDP ? skb->len : 0;
}
