// Two XDP programs and a program array: xdp_entry tail-calls slot 0 of
// jmp and, when the slot is empty, counts a miss (hits[0]) and passes;
// xdp_drop, put in the slot, counts (hits[1]) and drops. The daemon's
// durability tests fill the slot with map update ... value pinned PATH.
#include "xebpf/bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 4);
} jmp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} hits SEC(".maps");

static __always_inline void count(__u32 key)
{
	__u64 *n = bpf_map_lookup_elem(&hits, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("xdp")
int xdp_entry(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jmp, 0);
	count(0);
	return XDP_PASS;
}

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
	count(1);
	return XDP_DROP;
}

char _license[] SEC("license") = "Dual BSD/GPL";
