// XDP programs of the hooks/xdp namespace tests.
#include "xebpf/bpf.h"

#define BPF_MAP_TYPE_DEVMAP 14

// drops[0] counts the empty UDP datagrams xdp_drop_empty dropped.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} drops SEC(".maps");

// tx_port[0] is the interface xdp_redirect sends UDP datagrams to.
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 4);
} tx_port SEC(".maps");

// udp returns the UDP header of an IPv4 frame without IP options, or 0.
static __always_inline struct udphdr *udp(struct xdp_md *ctx, struct ethhdr **eth, struct iphdr **ip)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	*eth = data;
	*ip = data + sizeof(struct ethhdr);
	struct udphdr *u = data + sizeof(struct ethhdr) + sizeof(struct iphdr);
	if ((void *)(u + 1) > end)
		return 0;
	if ((*eth)->h_proto != bpf_htons(ETH_P_IP) || (*ip)->ihl != 5 || (*ip)->protocol != IPPROTO_UDP)
		return 0;
	return u;
}

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

// xdp_drop_empty drops UDP datagrams without payload and counts them.
SEC("xdp")
int xdp_drop_empty(struct xdp_md *ctx)
{
	struct ethhdr *eth;
	struct iphdr *ip;
	struct udphdr *u = udp(ctx, &eth, &ip);
	if (!u || u->len != bpf_htons(sizeof(struct udphdr)))
		return XDP_PASS;
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&drops, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
	return XDP_DROP;
}

// xdp_echo answers UDP datagrams to port 7 from where they came: MACs,
// addresses and ports swapped (the IP checksum does not change), the UDP
// checksum set to 0 (none, which IPv4 allows).
SEC("xdp")
int xdp_echo(struct xdp_md *ctx)
{
	struct ethhdr *eth;
	struct iphdr *ip;
	struct udphdr *u = udp(ctx, &eth, &ip);
	if (!u || u->dest != bpf_htons(7))
		return XDP_PASS;
	__u8 mac[6];
	__builtin_memcpy(mac, eth->h_dest, 6);
	__builtin_memcpy(eth->h_dest, eth->h_source, 6);
	__builtin_memcpy(eth->h_source, mac, 6);
	__u32 a = ip->saddr;
	ip->saddr = ip->daddr;
	ip->daddr = a;
	__u16 p = u->source;
	u->source = u->dest;
	u->dest = p;
	u->check = 0;
	return XDP_TX;
}

// xdp_redirect sends UDP datagrams to the interface of tx_port[0] (or
// drops them if it has none), and passes everything else.
SEC("xdp")
int xdp_redirect(struct xdp_md *ctx)
{
	struct ethhdr *eth;
	struct iphdr *ip;
	if (!udp(ctx, &eth, &ip))
		return XDP_PASS;
	return bpf_redirect_map(&tx_port, 0, XDP_DROP);
}

// xdp_grow lengthens UDP datagrams to port 9005 by 1000 bytes of zeros
// (within a 1500-byte MTU) and those to port 9006 by 1500 (past it), and
// passes every frame.
SEC("xdp")
int xdp_grow(struct xdp_md *ctx)
{
	struct ethhdr *eth;
	struct iphdr *ip;
	struct udphdr *u = udp(ctx, &eth, &ip);
	if (!u)
		return XDP_PASS;
	if (u->dest == bpf_htons(9005))
		bpf_xdp_adjust_tail(ctx, 1000);
	else if (u->dest == bpf_htons(9006))
		bpf_xdp_adjust_tail(ctx, 1500);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
