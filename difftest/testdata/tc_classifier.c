/* TC classifier: reads cb[] and mark from the context it is given, parses
 * Ethernet/VLAN/IPv4/IPv6 and the L4 ports with direct packet access, and
 * writes mark, priority, tc_index and cb[]; the verdict depends on the
 * destination port (53 OK, 9 SHOT, 7 PIPE, others UNSPEC). Counts verdicts
 * in a per-CPU array. */
#include "xebpf/bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} verdicts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} fields SEC(".maps");

static __always_inline int tally(__u32 k, int action)
{
	__u64 *n = bpf_map_lookup_elem(&verdicts, &k);
	if (n)
		*n += 1;
	return action;
}

static __always_inline void keep(__u32 k, __u32 v)
{
	bpf_map_update_elem(&fields, &k, &v, BPF_ANY);
}

SEC("tc")
int tc_classify(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	keep(0, skb->len);
	keep(1, skb->protocol);
	keep(2, skb->pkt_type);
	keep(3, skb->mark);
	keep(4, skb->cb[0] + skb->cb[4]);
	keep(5, skb->priority);
	keep(6, skb->ifindex);
	keep(7, skb->wire_len);
	__u32 seed = skb->cb[0] ^ skb->mark;
	skb->cb[1] = seed + 1;
	skb->cb[2] = skb->len;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return tally(3, TC_ACT_UNSPEC);
	__u16 proto = eth->h_proto;
	void *p = eth + 1;
	if (proto == bpf_htons(ETH_P_8021Q)) {
		struct vlan_hdr *vh = p;
		if ((void *)(vh + 1) > end)
			return tally(3, TC_ACT_UNSPEC);
		proto = vh->h_vlan_encapsulated_proto;
		p = vh + 1;
		skb->tc_index = bpf_ntohs(vh->h_vlan_TCI) & 0xfff;
	}
	__u8 l4;
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = p;
		if ((void *)(ip + 1) > end || ip->ihl < 5)
			return tally(3, TC_ACT_UNSPEC);
		l4 = ip->protocol;
		skb->priority = ip->tos >> 2;
		p = (void *)ip + ip->ihl * 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = p;
		if ((void *)(ip6 + 1) > end)
			return tally(3, TC_ACT_UNSPEC);
		l4 = ip6->nexthdr;
		skb->priority = ip6->priority;
		p = ip6 + 1;
	} else {
		return tally(3, TC_ACT_UNSPEC);
	}
	if (l4 != IPPROTO_UDP && l4 != IPPROTO_TCP)
		return tally(3, TC_ACT_UNSPEC);
	struct udphdr *uh = p; /* ports sit at the same place in TCP */
	if ((void *)(uh + 1) > end)
		return tally(3, TC_ACT_UNSPEC);
	__u16 dport = bpf_ntohs(uh->dest);
	skb->cb[3] = dport;
	skb->cb[4] = bpf_ntohs(uh->source);
	if (dport == 53) {
		skb->mark = 53 + seed;
		return tally(0, TC_ACT_OK);
	}
	if (dport == 9) {
		skb->mark = 9;
		return tally(1, TC_ACT_SHOT);
	}
	if (dport == 7)
		return tally(2, 3 /* TC_ACT_PIPE */);
	return tally(3, TC_ACT_UNSPEC);
}

char _license[] SEC("license") = "GPL";
