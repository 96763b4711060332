/* Programs that call the packet helpers with arguments taken from the
 * packet (XDP) or from cb[] of the __sk_buff given as ctx_in (TC and socket
 * filters), so that one object serves a table of cases. The helpers' results
 * go to r0, and what they change shows in data_out and ctx_out. */
#include <xebpf/bpf.h>

#define BPF_MAP_TYPE_STACK_TRACE 7
#define BPF_MAP_TYPE_CGROUP_ARRAY 8
#define BPF_MAP_TYPE_DEVMAP 14
#define BPF_MAP_TYPE_CPUMAP 16
#define BPF_MAP_TYPE_XSKMAP 17
#define BPF_MAP_TYPE_DEVMAP_HASH 25

static long (*bpf_skb_store_bytes)(void *skb, __u32 offset, const void *from, __u32 len, __u64 flags) = (void *)9;
static long (*bpf_l3_csum_replace)(void *skb, __u32 offset, __u64 from, __u64 to, __u64 flags) = (void *)10;
static long (*bpf_l4_csum_replace)(void *skb, __u32 offset, __u64 from, __u64 to, __u64 flags) = (void *)11;
static __u32 (*bpf_get_cgroup_classid)(void *skb) = (void *)17;
static __u32 (*bpf_get_route_realm)(void *skb) = (void *)24;
static long (*bpf_skb_change_type)(void *skb, __u32 type) = (void *)32;
static long (*bpf_skb_under_cgroup)(void *skb, void *map, __u32 index) = (void *)33;
static __u32 (*bpf_get_hash_recalc)(void *skb) = (void *)34;
static long (*bpf_skb_pull_data)(void *skb, __u32 len) = (void *)39;
static __u64 (*bpf_get_socket_cookie)(void *ctx) = (void *)46;
static __u32 (*bpf_get_socket_uid)(void *skb) = (void *)47;
static long (*bpf_set_hash)(void *skb, __u32 hash) = (void *)48;

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(key_size, 4);
	__uint(value_size, 4);
	__uint(max_entries, 8);
} devmap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(key_size, 4);
	__uint(value_size, 4);
	__uint(max_entries, 8);
} devhash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(key_size, 4);
	__uint(value_size, 4);
	__uint(max_entries, 2);
} cpumap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(key_size, 4);
	__uint(value_size, 4);
	__uint(max_entries, 4);
} xskmap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(key_size, 4);
	__uint(value_size, 4);
	__uint(max_entries, 2);
} cgroups SEC(".maps");

/* bpf_redirect_map on the map chosen by byte 14 (0 devmap, 1 devmap_hash,
 * 2 cpumap, 3 xskmap) with the key in byte 15 and the flags in bytes 16-17. */
SEC("xdp")
int xdp_redirect(struct xdp_md *ctx)
{
	__u8 *p = (void *)(long)ctx->data;
	if ((void *)(p + 18) > (void *)(long)ctx->data_end)
		return 100;
	__u32 key = p[15];
	__u64 flags = p[16] | (p[17] << 8);
	switch (p[14]) {
	case 0:
		return bpf_redirect_map(&devmap, key, flags);
	case 1:
		return bpf_redirect_map(&devhash, key, flags);
	case 2:
		return bpf_redirect_map(&cpumap, key, flags);
	case 3:
		return bpf_redirect_map(&xskmap, key, flags);
	}
	return 101;
}

/* Looks byte 15 up in the devmap (byte 14 0) or devmap_hash and returns the
 * ifindex, or 1000 if absent. */
SEC("xdp")
int xdp_devmap_lookup(struct xdp_md *ctx)
{
	__u8 *p = (void *)(long)ctx->data;
	if ((void *)(p + 16) > (void *)(long)ctx->data_end)
		return 100;
	__u32 key = p[15];
	__u32 *v = p[14] ? bpf_map_lookup_elem(&devhash, &key) : bpf_map_lookup_elem(&devmap, &key);
	return v ? *v : 1000;
}

SEC("tc")
int tc_store_bytes(struct __sk_buff *skb)
{
	__u32 v = skb->cb[2];
	long r = bpf_skb_store_bytes(skb, skb->cb[1], &v, 4, skb->cb[4]);
	skb->cb[0] = skb->len;
	skb->cb[3] = skb->hash;
	return r;
}

SEC("tc")
int tc_l3_csum(struct __sk_buff *skb)
{
	return bpf_l3_csum_replace(skb, skb->cb[1], skb->cb[2], skb->cb[3], skb->cb[4]);
}

SEC("tc")
int tc_l4_csum(struct __sk_buff *skb)
{
	return bpf_l4_csum_replace(skb, skb->cb[1], skb->cb[2], skb->cb[3], skb->cb[4]);
}

/* get_hash_recalc; cb[1] nonzero first sets that hash, cb[2] nonzero then
 * stores cb[2] bytes with BPF_F_INVALIDATE_HASH. */
SEC("tc")
int tc_hash(struct __sk_buff *skb)
{
	__u32 h0 = skb->hash;
	if (skb->cb[1])
		bpf_set_hash(skb, skb->cb[1]);
	__u32 h1 = bpf_get_hash_recalc(skb);
	__u32 h2 = skb->hash;
	if (skb->cb[2]) {
		__u32 z = 0;
		bpf_skb_store_bytes(skb, 0, &z, 1, 2);
	}
	skb->cb[0] = h0;
	skb->cb[1] = h1;
	skb->cb[2] = h2;
	skb->cb[3] = skb->hash;
	skb->cb[4] = bpf_get_hash_recalc(skb);
	return 0;
}

SEC("tc")
int tc_change_type(struct __sk_buff *skb)
{
	long r = bpf_skb_change_type(skb, skb->cb[1]);
	skb->cb[0] = skb->pkt_type;
	return r;
}

SEC("tc")
int tc_misc(struct __sk_buff *skb)
{
	skb->cb[0] = bpf_get_cgroup_classid(skb);
	skb->cb[1] = bpf_get_route_realm(skb);
	skb->cb[2] = bpf_get_socket_uid(skb);
	skb->cb[3] = bpf_get_socket_cookie(skb) != 0;
	skb->cb[4] = bpf_skb_under_cgroup(skb, &cgroups, skb->cb[4]);
	return 0;
}

SEC("tc")
int tc_pull(struct __sk_buff *skb)
{
	return bpf_skb_pull_data(skb, skb->cb[1]);
}

SEC("socket")
int sock_misc(struct __sk_buff *skb)
{
	skb->cb[2] = bpf_get_socket_uid(skb);
	skb->cb[3] = bpf_get_socket_cookie(skb) != 0;
	return 0;
}

char _license[] SEC("license") = "GPL";
