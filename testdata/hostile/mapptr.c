/* Map pointers: the address lddw loads for a map names the map; it is not
 * memory and not a number to compute with. */
#include "hostile.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} first SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} second SEC(".maps");

SEC("raw")
int map_descriptor_read(void *ctx)
{
	return *(volatile __u32 *)&first;
}

SEC("raw")
int map_descriptor_write(void *ctx)
{
	*(volatile __u32 *)&first = BPF_MAP_TYPE_ARRAY;
	return ESCAPED;
}

/* A map pointer computed from another: first's pointer plus the distance
 * to second's. */
SEC("raw")
int map_ptr_arith(void *ctx)
{
	__u32 k = 0;
	__u64 d = (__u64)&second - (__u64)&first;
	barrier_var(d);
	void *m = (void *)&first + d;
	return bpf_map_lookup_elem(m, &k) ? ESCAPED : NOT_REACHED;
}
