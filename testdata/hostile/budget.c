/* Instruction budget resets. A checked run is bounded by an instruction
 * budget, but each callback invocation of bpf_loop and
 * bpf_for_each_map_elem starts a fresh one, and so does each tail call: a
 * program nests them to run for hours. */
#include "hostile.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} elems SEC(".maps");

static long inner(__u64 i, void *c)
{
	(*(volatile __u64 *)c)++;
	return 0;
}

static long outer(__u64 i, void *c)
{
	bpf_loop(1 << 23, inner, c, 0);
	return 0;
}

/* 2^46 callback invocations, each a handful of instructions. */
SEC("raw")
int nested_loop(void *ctx)
{
	__u64 n = 0;
	bpf_loop(1 << 23, outer, &n, 0);
	return ESCAPED;
}

static long per_elem(void *map, __u32 *key, __u64 *val, void *c)
{
	bpf_loop(1 << 23, inner, c, 0);
	return 0;
}

/* 1024 elements, each running 2^23 loop callbacks. */
SEC("raw")
int for_each_loop(void *ctx)
{
	__u64 n = 0;
	bpf_for_each_map_elem(&elems, per_elem, &n, 0);
	return ESCAPED;
}

int tail_spin(void *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, int(void *));
} self SEC(".maps") = {
	.values = {[0] = (void *)&tail_spin},
};

/* Runs about half of a 2^16 instruction budget (the harness sets that
 * budget: 6000 iterations of 5 instructions), then tail-calls itself: 33
 * tail calls later the run has executed 15 budgets' worth. */
SEC("raw")
int tail_spin(void *ctx)
{
	for (volatile __u32 i = 0; i < 6000; i++)
		;
	bpf_tail_call(ctx, &self, 0);
	return ESCAPED;
}
