/* Context probes for the test-run context checks: each program copies the
 * context fields its type may read into an array, slot by field, and
 * writes some of the writable ones, so that the differential test compares
 * what the program sees, its return value, data_out and ctx_out for every
 * context it gives BPF_PROG_TEST_RUN. */
#include "xebpf/bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 32);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

static __always_inline void put(__u32 k, __u64 v)
{
	__u64 *p = bpf_map_lookup_elem(&seen, &k);
	if (p)
		*p = v;
}

/* The fields every __sk_buff program type may read. */
static __always_inline void common(struct __sk_buff *skb)
{
	put(0, skb->len);
	put(1, skb->pkt_type);
	put(2, skb->mark);
	put(3, skb->queue_mapping);
	put(4, skb->protocol);
	put(5, skb->vlan_present);
	put(6, skb->vlan_tci);
	put(7, skb->vlan_proto);
	put(8, skb->priority);
	put(9, skb->ingress_ifindex);
	put(10, skb->ifindex);
	put(11, skb->tc_index);
	put(12, skb->cb[0]);
	put(13, skb->cb[1]);
	put(14, skb->cb[2]);
	put(15, skb->cb[3]);
	put(16, skb->cb[4]);
	put(17, skb->hash);
	put(18, skb->napi_id);
	put(19, skb->gso_segs);
	put(20, skb->gso_size);
}

SEC("socket")
int ctx_socket(struct __sk_buff *skb)
{
	common(skb);
	skb->cb[2] = skb->len;
	return skb->len;
}

SEC("tc")
int ctx_tc(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	common(skb);
	put(21, skb->wire_len);
	put(22, skb->tstamp);
	put(23, skb->hwtstamp);
	put(24, skb->tc_classid);
	put(25, data_end - data);
	skb->mark += 1;
	skb->priority = skb->priority * 2 + 1;
	skb->cb[4] = 0x5a5a;
	skb->tstamp = skb->tstamp + 10;
	return 1;
}

SEC("xdp")
int ctx_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	void *meta = (void *)(long)ctx->data_meta;

	put(0, data_end - data);
	put(1, data - meta);
	put(2, ctx->ingress_ifindex);
	put(3, ctx->rx_queue_index);
	if (meta + 4 <= data)
		put(4, *(__u32 *)meta);
	if (data + 4 <= data_end)
		put(5, *(__u32 *)data);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
