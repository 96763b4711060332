/* XDP parser with a hash-map counter: counts packets per IP protocol (per
 * EtherType, tagged 0x10000, for non-IPv4), sums bytes, drops UDP to the
 * discard port 9 and truncated IPv4 headers, passes the rest. */
#include "bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} proto_count SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} byte_count SEC(".maps"); /* [0] bytes passed, [1] bytes dropped */

static __always_inline void count(__u32 key)
{
	__u64 *n = bpf_map_lookup_elem(&proto_count, &key);
	if (n) {
		__sync_fetch_and_add(n, 1);
	} else {
		__u64 one = 1;
		bpf_map_update_elem(&proto_count, &key, &one, BPF_NOEXIST);
	}
}

static __always_inline int verdict(int action, __u32 len)
{
	__u32 k = action == XDP_PASS ? 0 : 1;
	__u64 *b = bpf_map_lookup_elem(&byte_count, &k);
	if (b)
		*b += len;
	return action;
}

SEC("xdp")
int xdp_parse(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 len = data_end - data;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return verdict(XDP_DROP, len);
	if (eth->h_proto != bpf_htons(ETH_P_IP)) {
		count(0x10000 | bpf_ntohs(eth->h_proto));
		return verdict(XDP_PASS, len);
	}
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return verdict(XDP_DROP, len);
	count(ip->protocol);
	if (ip->protocol == IPPROTO_UDP) {
		struct udphdr *udp = (void *)ip + ip->ihl * 4;
		if ((void *)(udp + 1) > data_end)
			return verdict(XDP_DROP, len);
		if (udp->dest == bpf_htons(9))
			return verdict(XDP_DROP, len);
	}
	return verdict(XDP_PASS, len);
}
