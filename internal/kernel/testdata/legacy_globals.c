/* A legacy "maps" section (struct bpf_map_def), global data in .data,
 * .rodata and .bss, and a classifier in a section whose name implies no
 * program type (iproute2 style), loaded as sched_cls through
 * LoadOptions.Types. */
#include "bpf.h"

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") seen = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 16,
};

const volatile __u32 threshold = 100;
__u64 total = 7;
__u32 last_len;

SEC("xdp_legacy")
int count_len(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	__u64 *n = bpf_map_lookup_elem(&seen, &len);
	if (n) {
		*n += 1;
	} else {
		__u64 one = 1;
		bpf_map_update_elem(&seen, &len, &one, BPF_ANY);
	}
	total += len;
	last_len = len;
	return len > threshold ? XDP_DROP : XDP_PASS;
}

SEC("classify_custom")
int tc_custom(struct __sk_buff *skb)
{
	last_len = skb->len;
	return skb->len > threshold ? 2 /* TC_ACT_SHOT */ : 0 /* TC_ACT_OK */;
}
