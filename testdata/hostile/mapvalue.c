/* Map value bounds. A pointer to one element reaches only that element's
 * value in Linux; checked mode bounds accesses by the map's whole block. */
#include "hostile.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pcpu SEC(".maps");

/* Element 1 of three 8-byte elements: v[1] is element 2, v[-1] element 0. */
SEC("raw")
int array_neighbour_write(void *ctx)
{
	__u32 k = 1;
	volatile __u64 *v = bpf_map_lookup_elem(&arr, &k);
	if (!v)
		return NOT_REACHED;
	v[1] = 0x4141414141414141;
	v[-1] = 0x4141414141414141;
	return ESCAPED;
}

SEC("raw")
int array_neighbour_read(void *ctx)
{
	__u32 k = 1;
	volatile __u64 *v = bpf_map_lookup_elem(&arr, &k);
	if (!v)
		return NOT_REACHED;
	return v[1] == 0xc2c2c2c2c2c2c2c2 ? ESCAPED : NOT_REACHED;
}

/* A hash element is its key, padded to 8 bytes, then its value: the value
 * pointer minus 8 is the key. */
SEC("raw")
int hash_key_rewrite(void *ctx)
{
	__u32 k = 1;
	volatile __u64 *v = bpf_map_lookup_elem(&hash, &k);
	if (!v)
		return NOT_REACHED;
	*(volatile __u32 *)((void *)v - 8) = 99;
	return ESCAPED;
}

/* A per-CPU array element holds one 8-byte value per CPU, CPU 0 first: the
 * run on CPU 0 writes CPU 1's value. */
SEC("raw")
int percpu_other_cpu(void *ctx)
{
	__u32 k = 0;
	volatile __u64 *v = bpf_map_lookup_elem(&pcpu, &k);
	if (!v)
		return NOT_REACHED;
	v[1] = 0x4141414141414141;
	return ESCAPED;
}

/* A helper writing 16 bytes into the 8-byte element 1: element 2 too. */
SEC("raw")
int array_neighbour_helper_write(void *ctx)
{
	__u32 k = 1;
	__u64 src[2] = {0x4141414141414141, 0x4141414141414141};
	__u64 *v = bpf_map_lookup_elem(&arr, &k);
	if (!v)
		return NOT_REACHED;
	bpf_probe_read_kernel(v, sizeof(src), src);
	return ESCAPED;
}
