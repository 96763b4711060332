/* Queue and stack maps: every run pushes the packet length to a queue and
 * to a stack (BPF_EXIST, which overwrites the oldest element when full, for
 * packets whose last byte is odd), pops the stack for even lengths, peeks
 * and pops the queue for every third run, and keeps every helper's result
 * in .bss. */
#include "xebpf/bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 6);
	__type(value, __u32);
} fifo SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 5);
	__type(value, __u64);
} lifo SEC(".maps");

struct results {
	long push_q, push_s, pop_s, peek_q, pop_q;
	__u64 popped_s;
	__u32 peeked_q, popped_q;
};

struct results res[16];
__u32 runs;

SEC("xdp")
int xdp_queue(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	__u32 len = end - data;
	if (data + 14 > end)
		return XDP_ABORTED;
	__u64 flags = (data[13] & 1) ? BPF_EXIST : 0;
	__u32 i = runs++ & 15;
	struct results *r = &res[i];
	__u32 v = len;
	r->push_q = bpf_map_push_elem(&fifo, &v, flags);
	__u64 w = (__u64)len << 32 | runs;
	r->push_s = bpf_map_push_elem(&lifo, &w, flags);
	if (!(len & 1))
		r->pop_s = bpf_map_pop_elem(&lifo, &r->popped_s);
	if (runs % 3 == 0) {
		r->peek_q = bpf_map_peek_elem(&fifo, &r->peeked_q);
		r->pop_q = bpf_map_pop_elem(&fifo, &r->popped_q);
	}
	if (r->push_q < 0)
		return XDP_DROP;
	return r->pop_s < 0 ? XDP_TX : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
