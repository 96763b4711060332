// An XDP program that counts the frames it sees (counts[0]) and drops
// and counts the UDP datagrams without payload (counts[1]); the daemon's
// net tests attach it to a device.
#include "xebpf/bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} counts SEC(".maps");

static __always_inline void count(__u32 key)
{
	__u64 *n = bpf_map_lookup_elem(&counts, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("xdp")
int xdp_udp_drop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct udphdr *u = data + sizeof(*eth) + sizeof(*ip);
	count(0);
	if ((void *)(u + 1) > end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 || ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	if (u->len != bpf_htons(sizeof(*u)))
		return XDP_PASS;
	count(1);
	return XDP_DROP;
}

char _license[] SEC("license") = "Dual BSD/GPL";
