// udpflood rate-limits UDP per IPv4 source address: each source may send
// config.limit datagrams in every window of config.window_ns nanoseconds
// (a fixed window started by its first datagram, timed with
// bpf_ktime_get_ns); above that its datagrams are dropped. The per-source
// state and counters live in an LRU hash keyed by the source address, so
// a flood of new sources evicts the least recent ones instead of failing.
// totals counts every verdict. With config.limit 0 nothing is limited.
//
// Rebuild from the repository root:
//   clang-19 -target bpf -O2 -g -I include -c examples/udpflood/bpf/udpflood.c -o examples/udpflood/bpf/udpflood.o
#include "xebpf/bpf.h"

struct config {
	__u64 window_ns; /* length of a window */
	__u64 limit;     /* datagrams a source may send in a window; 0: no limit */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct config);
	__uint(max_entries, 1);
} config SEC(".maps");

struct source {
	__u64 window_start; /* bpf_ktime_get_ns() when the current window began */
	__u64 in_window;    /* datagrams seen in the current window */
	__u64 passed;       /* datagrams passed, all windows */
	__u64 dropped;      /* datagrams dropped, all windows */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u32); /* IPv4 source address, network byte order */
	__type(value, struct source);
	__uint(max_entries, 4096);
} sources SEC(".maps");

enum { TOTAL_PASSED, TOTAL_DROPPED, TOTAL_OTHER, TOTAL_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, TOTAL_MAX);
} totals SEC(".maps");

static __always_inline void count(__u32 key)
{
	__u64 *n = bpf_map_lookup_elem(&totals, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("xdp")
int xdp_udpflood(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	__u32 zero = 0;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    ip->protocol != IPPROTO_UDP) {
		count(TOTAL_OTHER);
		return XDP_PASS;
	}
	struct udphdr *u = (void *)ip + ip->ihl * 4;
	if (ip->ihl < 5 || (void *)(u + 1) > end) {
		count(TOTAL_OTHER);
		return XDP_PASS;
	}

	struct config *cfg = bpf_map_lookup_elem(&config, &zero);
	__u64 now = bpf_ktime_get_ns();
	__u32 saddr = ip->saddr;
	struct source *s = bpf_map_lookup_elem(&sources, &saddr);
	if (!s) {
		struct source fresh = { .window_start = now };
		bpf_map_update_elem(&sources, &saddr, &fresh, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&sources, &saddr);
		if (!s) { /* evicted at once: do not punish the source */
			count(TOTAL_PASSED);
			return XDP_PASS;
		}
	}
	if (cfg && cfg->window_ns && now - s->window_start >= cfg->window_ns) {
		s->window_start = now;
		s->in_window = 0;
	}
	s->in_window++;
	if (cfg && cfg->limit && s->in_window > cfg->limit) {
		s->dropped++;
		count(TOTAL_DROPPED);
		return XDP_DROP;
	}
	s->passed++;
	count(TOTAL_PASSED);
	return XDP_PASS;
}

char _license[] SEC("license") = "Dual BSD/GPL";
