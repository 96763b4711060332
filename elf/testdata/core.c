// CO-RE field accesses against a local, reordered view of struct __sk_buff.
#include "common.h"

struct __sk_buff {
	__u32 mark;
	__u32 len;
	__u32 no_such_field;
} __attribute__((preserve_access_index));

SEC("classifier")
int core_read(struct __sk_buff *skb)
{
	if (__builtin_preserve_field_info(skb->no_such_field, 2 /* BPF_FIELD_EXISTS */))
		return skb->no_such_field;
	return skb->len + skb->mark;
}

char _license[] SEC("license") = "GPL";
