/* A long run, for Collection.Close while it is in flight. */
#include "hostile.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} progress SEC(".maps");

static long step(__u64 i, __u64 *n)
{
	volatile __u64 scratch[8];
	scratch[i & 7] = i;
	(*n)++;
	return 0;
}

/* Counts its bpf_loop steps in progress[0], so the harness knows it runs. */
SEC("raw")
int long_run(void *ctx)
{
	__u32 k = 0;
	__u64 *n = bpf_map_lookup_elem(&progress, &k);
	if (!n)
		return NOT_REACHED;
	bpf_loop(1 << 20, step, n, 0);
	return 0;
}
