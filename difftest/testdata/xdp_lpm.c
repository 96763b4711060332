/* LPM trie routing: the first run installs a route table (default route,
 * 10.0.0.0/8, 10.0.0.0/24, 10.0.0.2/32, 192.168.0.0/16); every IPv4 packet
 * looks up its destination, counts the hit in the route's value and takes
 * the route's verdict; a miss installs the source's /(8 + ttl % 25) prefix
 * and a TOS of 0x10 deletes the destination's /24. Also keeps an IPv6 trie
 * keyed by the /64 of the source. */
#include "xebpf/bpf.h"

struct key4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct key6 {
	__u32 prefixlen;
	__u8 addr[16];
};

struct route {
	__u32 verdict;
	__u32 hits;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct key4);
	__type(value, struct route);
} routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct key6);
	__type(value, __u64);
} routes6 SEC(".maps");

__u32 installed;
long install_err[5];
long miss_err;
long delete_err;
__u32 misses;

static __always_inline void add(int i, __u32 plen, __u8 a, __u8 b, __u8 c, __u8 d, __u32 verdict)
{
	struct key4 k = {.prefixlen = plen, .addr = {a, b, c, d}};
	struct route r = {.verdict = verdict};
	install_err[i] = bpf_map_update_elem(&routes, &k, &r, BPF_NOEXIST);
}

SEC("xdp")
int xdp_lpm(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	if (!installed) {
		installed = 1;
		add(0, 0, 0, 0, 0, 0, XDP_PASS);
		add(1, 8, 10, 0, 0, 0, XDP_TX);
		add(2, 24, 10, 0, 0, 0, XDP_PASS);
		add(3, 32, 10, 0, 0, 2, XDP_DROP);
		add(4, 16, 192, 168, 0, 0, XDP_DROP);
	}
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return XDP_ABORTED;
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			return XDP_ABORTED;
		struct key6 k = {.prefixlen = 64};
		__builtin_memcpy(k.addr, ip6->saddr, 8);
		__u64 *n = bpf_map_lookup_elem(&routes6, &k);
		if (n) {
			*n += 1;
			return XDP_PASS;
		}
		__u64 one = 1;
		bpf_map_update_elem(&routes6, &k, &one, BPF_ANY);
		return XDP_TX;
	}
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return XDP_ABORTED;
	struct key4 k = {.prefixlen = 32};
	__builtin_memcpy(k.addr, &ip->daddr, 4);
	if (ip->tos == 0x10) {
		k.prefixlen = 24;
		k.addr[3] = 0;
		delete_err = bpf_map_delete_elem(&routes, &k);
		return XDP_DROP;
	}
	struct route *r = bpf_map_lookup_elem(&routes, &k);
	if (r) {
		r->hits++;
		return r->verdict;
	}
	misses++;
	struct key4 s = {.prefixlen = 8 + ip->ttl % 25};
	__builtin_memcpy(s.addr, &ip->saddr, 4);
	struct route nr = {.verdict = ip->ttl & 3};
	miss_err = bpf_map_update_elem(&routes, &s, &nr, BPF_ANY);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
