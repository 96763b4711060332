/* Benchmark: parse Ethernet/IPv4/UDP and count the flow in a hash map
 * (lookup, then update in place or insert). */
#include "xebpf/bpf.h"

struct flow {
	__u32 saddr, daddr;
	__u16 sport, dport;
	__u32 proto;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct flow);
	__type(value, __u64);
} flows SEC(".maps");

SEC("xdp")
int bench_parse_hash(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->ihl != 5 || ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	struct udphdr *uh = (void *)(ip + 1);
	if ((void *)(uh + 1) > end)
		return XDP_DROP;
	struct flow f = {ip->saddr, ip->daddr, uh->source, uh->dest, ip->protocol};
	__u64 *n = bpf_map_lookup_elem(&flows, &f);
	if (n) {
		*n += 1;
		return XDP_PASS;
	}
	__u64 one = 1;
	bpf_map_update_elem(&flows, &f, &one, BPF_ANY);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
