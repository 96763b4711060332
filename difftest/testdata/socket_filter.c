/* Socket filter with classic packet loads (LD_ABS; offset 0 is the network
 * header) and direct reads of __sk_buff fields. IPv4 UDP frames are
 * accepted whole, IPv4 TCP truncated to 64 bytes, IPv6 to 100 bytes,
 * anything else dropped. A load beyond the packet ends the program with 0.
 * The fields seen and bpf_skb_load_bytes results are kept in an array. */
#include "xebpf/bpf.h"

enum { F_LEN, F_PROTO, F_PKT_TYPE, F_IFINDEX, F_MARK, F_QMAP, F_VLAN, F_PRIO, F_HASH,
       F_W0, F_H22, F_B9, F_LOADB, F_LOADB_ERR, F_DEEP, F_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, F_MAX);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

static __always_inline void put(__u32 k, __u64 v)
{
	__u64 *p = bpf_map_lookup_elem(&seen, &k);
	if (p)
		*p = v;
}

SEC("socket")
int sock_filter(struct __sk_buff *skb)
{
	put(F_LEN, skb->len);
	put(F_PROTO, skb->protocol);
	put(F_PKT_TYPE, skb->pkt_type);
	put(F_IFINDEX, skb->ifindex);
	put(F_MARK, skb->mark);
	put(F_QMAP, skb->queue_mapping);
	put(F_VLAN, skb->vlan_present << 16 | skb->vlan_tci);
	put(F_PRIO, skb->priority);
	put(F_HASH, skb->hash);
	__u8 buf[8] = {};
	long err = bpf_skb_load_bytes(skb, 2, buf, 8);
	put(F_LOADB, *(__u64 *)buf);
	put(F_LOADB_ERR, err);
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		__u64 nh = load_byte(skb, 6);
		put(F_B9, nh);
		put(F_W0, load_word(skb, 0));
		return 100;
	}
	if (skb->protocol != bpf_htons(ETH_P_IP))
		return 0;
	__u64 w0 = load_word(skb, 0);
	put(F_W0, w0);
	__u64 proto = load_byte(skb, 9);
	put(F_B9, proto);
	__u64 ihl = (w0 >> 24) & 15;
	if (proto == IPPROTO_UDP) {
		/* LD_IND-free: the port at a fixed offset for ihl 5 only */
		__u64 dport = ihl == 5 ? load_half(skb, 22) : 0;
		put(F_H22, dport);
		if (dport == 9)
			return 0;
		return skb->len;
	}
	if (proto == IPPROTO_TCP) {
		put(F_DEEP, load_word(skb, 200)); /* ends the program on short frames */
		return 64;
	}
	return 0;
}

char _license[] SEC("license") = "GPL";
