/* XDP parser: Ethernet, up to two VLAN tags (802.1Q/802.1ad), IPv4 with
 * options, IPv6 with up to three extension headers, TCP, UDP, ICMP and
 * ICMPv6. Verdicts: truncated headers DROP, malformed ones (IPv4 ihl < 5 or
 * version != 4, TCP doff < 5, UDP length < 8) ABORTED, TCP/23 and UDP/9
 * DROP, ICMP/ICMPv6 echo requests TX with the MACs swapped, everything else
 * PASS. Counts each class in an array with atomic adds. */
#include "xebpf/bpf.h"

enum { C_SHORT, C_NONIP, C_V4, C_V6, C_TCP, C_UDP, C_ICMP, C_OTHER, C_BAD, C_VLAN, C_FRAG, C_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, C_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline void count(__u32 k)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("xdp")
int xdp_parse(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end) {
		count(C_SHORT);
		return XDP_ABORTED;
	}
	__u16 proto = eth->h_proto;
	void *p = eth + 1;
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		struct vlan_hdr *vh = p;
		if ((void *)(vh + 1) > end) {
			count(C_SHORT);
			return XDP_DROP;
		}
		count(C_VLAN);
		proto = vh->h_vlan_encapsulated_proto;
		p = vh + 1;
	}
	__u8 l4;
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = p;
		if ((void *)(ip + 1) > end) {
			count(C_SHORT);
			return XDP_DROP;
		}
		if (ip->ihl < 5 || ip->version != 4) {
			count(C_BAD);
			return XDP_ABORTED;
		}
		count(C_V4);
		if (ip->frag_off & bpf_htons(0x1fff)) {
			count(C_FRAG);
			return XDP_PASS;
		}
		l4 = ip->protocol;
		p = (void *)ip + ip->ihl * 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = p;
		if ((void *)(ip6 + 1) > end) {
			count(C_SHORT);
			return XDP_DROP;
		}
		count(C_V6);
		l4 = ip6->nexthdr;
		p = ip6 + 1;
#pragma unroll
		for (int i = 0; i < 3; i++) {
			if (l4 != 0 && l4 != 43 && l4 != 60)
				break;
			struct ipv6_opt_hdr *oh = p;
			if ((void *)(oh + 1) > end) {
				count(C_SHORT);
				return XDP_DROP;
			}
			l4 = oh->nexthdr;
			p += (oh->hdrlen + 1) * 8;
		}
	} else {
		count(C_NONIP);
		return XDP_PASS;
	}

	if (l4 == IPPROTO_TCP) {
		struct tcphdr *th = p;
		if ((void *)(th + 1) > end) {
			count(C_SHORT);
			return XDP_DROP;
		}
		count(C_TCP);
		if (th->doff < 5) {
			count(C_BAD);
			return XDP_ABORTED;
		}
		return th->dest == bpf_htons(23) ? XDP_DROP : XDP_PASS;
	}
	if (l4 == IPPROTO_UDP) {
		struct udphdr *uh = p;
		if ((void *)(uh + 1) > end) {
			count(C_SHORT);
			return XDP_DROP;
		}
		count(C_UDP);
		if (bpf_ntohs(uh->len) < 8) {
			count(C_BAD);
			return XDP_ABORTED;
		}
		return uh->dest == bpf_htons(9) ? XDP_DROP : XDP_PASS;
	}
	if (l4 == IPPROTO_ICMP || l4 == IPPROTO_ICMPV6) {
		struct icmphdr *ic = p;
		if ((void *)ic + 4 > end) {
			count(C_SHORT);
			return XDP_DROP;
		}
		count(C_ICMP);
		if ((l4 == IPPROTO_ICMP && ic->type == 8) || (l4 == IPPROTO_ICMPV6 && ic->type == 128)) {
			__u8 tmp[6];
			__builtin_memcpy(tmp, eth->h_dest, 6);
			__builtin_memcpy(eth->h_dest, eth->h_source, 6);
			__builtin_memcpy(eth->h_source, tmp, 6);
			return XDP_TX;
		}
		return XDP_PASS;
	}
	count(C_OTHER);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
