/* A kprobe program, which runs without a packet, with a per-CPU array and
 * an array for xebpf run's --maps-in tests: it counts its runs in hits[0]
 * of the CPU it runs on and returns the count. */
#include "xebpf/bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} limits SEC(".maps");

SEC("kprobe/do_sys_openat2")
int count_open(void *ctx)
{
	__u32 k = 0;
	__u64 *n = bpf_map_lookup_elem(&hits, &k);
	__u64 *lim = bpf_map_lookup_elem(&limits, &k);

	if (!n || !lim)
		return 0;
	*n += 1;
	if (*lim && *n > *lim)
		return 0;
	return *n;
}

char _license[] SEC("license") = "GPL";
