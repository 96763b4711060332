// xdpfilter drops IPv4 packets whose source address is in the blocklist
// map, counts every verdict in the stats map, and passes everything else.
//
// Rebuild from the repository root:
//   clang-19 -target bpf -O2 -g -I include -c examples/xdpfilter/xdpfilter.c -o examples/xdpfilter/xdpfilter.o
#include "xebpf/bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);   /* IPv4 source address, network byte order */
	__type(value, __u64); /* packets dropped from it */
	__uint(max_entries, 1024);
} blocklist SEC(".maps");

enum { STAT_PASS, STAT_DROP, STAT_NOT_IPV4, STAT_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, STAT_MAX);
} stats SEC(".maps");

static __always_inline void count(__u32 stat)
{
	__u64 *n = bpf_map_lookup_elem(&stats, &stat);
	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("xdp")
int xdp_filter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP)) {
		count(STAT_NOT_IPV4);
		return XDP_PASS;
	}
	__u32 src = ip->saddr;
	__u64 *dropped = bpf_map_lookup_elem(&blocklist, &src);
	if (dropped) {
		__sync_fetch_and_add(dropped, 1);
		count(STAT_DROP);
		return XDP_DROP;
	}
	count(STAT_PASS);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
