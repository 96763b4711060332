/* Array of maps: slot 0 (IPv4) and slot 1 (IPv6) hold inner arrays, slot 2
 * (other EtherTypes) is empty; each packet bumps the inner counter selected
 * by the low bits of its last byte and the number of missing slots is kept
 * in .bss. */
#include "xebpf/bpf.h"

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
};

struct inner inner_v4 SEC(".maps");
struct inner inner_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 3);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = {[0] = &inner_v4, [1] = &inner_v6},
};

__u64 no_slot;
__u64 no_entry;

SEC("xdp")
int xdp_map_in_map(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	if (data + 14 > end)
		return XDP_ABORTED;
	__u16 proto = *(__u16 *)(data + 12);
	__u32 slot = proto == bpf_htons(ETH_P_IP) ? 0 : proto == bpf_htons(ETH_P_IPV6) ? 1 : 2;
	void *in = bpf_map_lookup_elem(&outer, &slot);
	if (!in) {
		no_slot++;
		return XDP_PASS;
	}
	__u32 k = (end - data) & 7; /* 4..7 miss */
	__u64 *v = bpf_map_lookup_elem(in, &k);
	if (!v) {
		no_entry++;
		return XDP_DROP;
	}
	*v += end - data;
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
