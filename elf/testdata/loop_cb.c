// bpf_loop with a callback passed by address.
#include "common.h"

struct ctx_sum { __u64 sum; };

static int add_one(__u32 index, void *data)
{
	struct ctx_sum *c = data;
	c->sum += index;
	return 0;
}

SEC("tc")
int sum_loop(void *skb)
{
	struct ctx_sum c = { 0 };
	bpf_loop(10, add_one, &c, 0);
	return c.sum;
}

char _license[] SEC("license") = "Dual MIT/GPL";
