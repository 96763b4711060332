/* A program array joining programs of two types. Linux refuses it when
 * the array is filled or first used; xebpf refuses the collection. */
#include "hostile.h"

int skb_target(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, int(void *));
} jmp_cross SEC(".maps") = {
	.values = {[0] = (void *)&skb_target},
};

/* An XDP program tail-calling a tc program: the target's helpers would
 * take the 48-byte xdp_md for a 216-byte __sk_buff. */
SEC("xdp")
int cross_type_tail(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jmp_cross, 0);
	return NOT_REACHED;
}

SEC("tc")
int skb_target(struct __sk_buff *skb)
{
	bpf_skb_change_tail(skb, 1000, 0);
	return ESCAPED;
}
