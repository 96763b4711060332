/* One XDP program touching every map kind that DumpMaps and LoadMaps
 * handle: queue, stack, LPM trie, LRU hash, per-CPU hash, spin-locked hash,
 * .data/.rodata/.bss, a statically filled program array (tail call) and a
 * statically filled array of maps. */
#include "bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, __u32);
} fifo SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 8);
	__type(value, __u32);
} lifo SEC(".maps");

struct lpm_key {
	__u32 prefixlen;
	__u32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u32);
} routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
} recent SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
} percpu SEC(".maps");

struct locked {
	struct bpf_spin_lock lock;
	__u32 hits;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct locked);
} guarded SEC(".maps");

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} inner_a SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = {[1] = &inner_a},
};

int zoo_tail(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, int(struct xdp_md *));
} jumps SEC(".maps") = {
	.values = {[0] = (void *)&zoo_tail},
};

const volatile __u32 bias = 100;
__u32 runs = 5;
__u32 last_route;

SEC("xdp")
int zoo(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 34 > data_end)
		return XDP_ABORTED;
	struct iphdr *ip = data + ETH_HLEN;

	__u32 n = ++runs;
	__u32 v = bias + n;
	bpf_map_push_elem(&fifo, &v, 0);
	bpf_map_push_elem(&lifo, &v, 0);

	struct lpm_key k = {.prefixlen = 32, .addr = ip->daddr};
	__u32 *route = bpf_map_lookup_elem(&routes, &k);
	last_route = route ? *route : 0xffffffff;

	bpf_map_update_elem(&recent, &ip->saddr, &n, BPF_ANY);
	bpf_map_update_elem(&percpu, &ip->saddr, &v, BPF_ANY);

	__u32 zero = 0;
	struct locked *g = bpf_map_lookup_elem(&guarded, &zero);
	if (!g) {
		struct locked init = {};
		bpf_map_update_elem(&guarded, &zero, &init, BPF_NOEXIST);
		g = bpf_map_lookup_elem(&guarded, &zero);
	}
	if (g) {
		bpf_spin_lock(&g->lock);
		g->hits += 1;
		bpf_spin_unlock(&g->lock);
	}

	__u32 one = 1;
	void *in = bpf_map_lookup_elem(&outer, &one);
	if (in) {
		__u32 *cell = bpf_map_lookup_elem(in, &zero);
		if (cell)
			*cell += 1;
	}

	bpf_tail_call(ctx, &jumps, 0);
	return XDP_PASS;
}

SEC("xdp")
int zoo_tail(struct xdp_md *ctx)
{
	return XDP_TX;
}

/* A program the kernel rejects (out-of-bounds packet read): it must not keep
 * the others from loading. */
SEC("xdp")
int zoo_invalid(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	return data[0];
}
