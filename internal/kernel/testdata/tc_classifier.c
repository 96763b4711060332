/* TC classifier with direct packet access: marks UDP/53 (mark 53, priority
 * 6) and accepts it, drops UDP/9, leaves the rest to the next classifier
 * (TC_ACT_UNSPEC). Counts verdicts in a per-CPU array. */
#include "bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} verdicts SEC(".maps"); /* [0] ok, [1] shot, [2] unspec */

static __always_inline int tally(__u32 k, int action)
{
	__u64 *n = bpf_map_lookup_elem(&verdicts, &k);
	if (n)
		*n += 1;
	return action;
}

SEC("tc")
int tc_classify(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return tally(2, TC_ACT_UNSPEC);
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_UDP || ip->ihl != 5)
		return tally(2, TC_ACT_UNSPEC);
	struct udphdr *udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > data_end)
		return tally(2, TC_ACT_UNSPEC);
	if (udp->dest == bpf_htons(53)) {
		skb->mark = 53;
		skb->priority = 6;
		return tally(0, TC_ACT_OK);
	}
	if (udp->dest == bpf_htons(9))
		return tally(1, TC_ACT_SHOT);
	return tally(2, TC_ACT_UNSPEC);
}
