/* Map-heavy XDP program: a hash of IPv4/IPv6 flows (5-tuple to packets and
 * bytes) with BPF_NOEXIST inserts, BPF_EXIST updates and deletes of TCP
 * flows on FIN/RST; a small hash that fills up (its insert errors are kept
 * in .bss); an LRU hash of last packet length per source; a per-CPU array
 * of size buckets; a per-CPU hash of bytes per protocol. */
#include "xebpf/bpf.h"

struct flow {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 family;
	__u16 pad;
};

struct counters {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct flow);
	__type(value, struct counters);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u32);
} small SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u32);
} last_len SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} sizes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u8);
	__type(value, __u64);
} proto_bytes SEC(".maps");

long small_err[8];
__u32 small_n;
long exist_err;
long delete_err;

SEC("xdp")
int xdp_flows(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u64 len = end - data;
	__u32 bucket = len < 64 ? 0 : len < 128 ? 1 : len < 256 ? 2 : len < 512 ? 3 : len < 1024 ? 4 : 5;
	__u64 *sz = bpf_map_lookup_elem(&sizes, &bucket);
	if (sz)
		*sz += len;

	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	struct flow f = {};
	void *l4;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end || ip->ihl != 5)
			return XDP_PASS;
		__builtin_memcpy(f.saddr, &ip->saddr, 4);
		__builtin_memcpy(f.daddr, &ip->daddr, 4);
		f.proto = ip->protocol;
		f.family = 4;
		l4 = ip + 1;
		__u32 src = ip->saddr;
		__u32 l = len;
		bpf_map_update_elem(&last_len, &src, &l, BPF_ANY);
		__u32 sk = ip->id & 0xff;
		__u32 one = 1;
		long err = bpf_map_update_elem(&small, &sk, &one, BPF_NOEXIST);
		small_err[small_n & 7] = err;
		small_n++;
		if (err == -17) { /* EEXIST: bump it */
			__u32 *v = bpf_map_lookup_elem(&small, &sk);
			if (v)
				*v += 1;
		}
		if (ip->tos == 0xff)
			delete_err = bpf_map_delete_elem(&small, &sk);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			return XDP_PASS;
		__builtin_memcpy(f.saddr, ip6->saddr, 16);
		__builtin_memcpy(f.daddr, ip6->daddr, 16);
		f.proto = ip6->nexthdr;
		f.family = 6;
		l4 = ip6 + 1;
	} else {
		return XDP_PASS;
	}
	__u8 pk = f.proto;
	__u64 *pb = bpf_map_lookup_elem(&proto_bytes, &pk);
	if (pb) {
		*pb += len;
	} else {
		bpf_map_update_elem(&proto_bytes, &pk, &len, BPF_NOEXIST);
	}

	int fin = 0;
	if (f.proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;
		if ((void *)(th + 1) > end)
			return XDP_DROP;
		f.sport = th->source;
		f.dport = th->dest;
		fin = th->fin || th->rst;
	} else if (f.proto == IPPROTO_UDP) {
		struct udphdr *uh = l4;
		if ((void *)(uh + 1) > end)
			return XDP_DROP;
		f.sport = uh->source;
		f.dport = uh->dest;
	}
	struct counters *c = bpf_map_lookup_elem(&flows, &f);
	if (c) {
		struct counters n = {c->packets + 1, c->bytes + len};
		exist_err = bpf_map_update_elem(&flows, &f, &n, BPF_EXIST);
		if (fin) {
			bpf_map_delete_elem(&flows, &f);
			return XDP_DROP;
		}
		return XDP_PASS;
	}
	struct counters n = {1, len};
	if (bpf_map_update_elem(&flows, &f, &n, BPF_NOEXIST))
		return XDP_ABORTED;
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
