/* Probes of the environment BPF_PROG_TEST_RUN gives each program type: each
 * program copies what it sees into a .bss struct that the test reads back. */
#include "bpf.h"

struct xdp_env {
	__u32 len;         /* data_end - data */
	__u32 meta_len;    /* data - data_meta */
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u32 headroom;    /* largest delta for bpf_xdp_adjust_head(ctx, -delta) */
	__u32 metaroom;    /* largest delta for bpf_xdp_adjust_meta(ctx, -delta) */
	__u32 tailroom;    /* largest delta for bpf_xdp_adjust_tail(ctx, +delta) */
	__u32 min_len;     /* smallest length bpf_xdp_adjust_tail can shrink to */
	__u8 first[16];
	__u32 runs;
};

struct skb_env {
	__u32 len, pkt_type, mark, queue_mapping, protocol, vlan_present, vlan_tci, vlan_proto;
	__u32 priority, ingress_ifindex, ifindex, tc_index, cb[5], hash, napi_id;
	__u32 pkt_len;     /* data_end - data (direct access), tc only */
	__u32 meta_len;    /* data - data_meta, tc only */
	__u32 wire_len, gso_segs, gso_size, tc_classid;
	__u64 tstamp;
	__u32 ld_abs0;     /* LD_ABS byte 0 */
	__u32 ld_abs12;    /* LD_ABS half 12 */
	__u8 first[16];    /* bpf_skb_load_bytes(skb, 0, 16) */
	__u32 runs;
};

struct xdp_env xdp_env;
struct skb_env sock_env;
struct skb_env tc_env;

static __always_inline __u32 search_head(struct xdp_md *ctx)
{
	__u32 lo = 0, hi = 4096;
	for (int i = 0; i < 14; i++) {
		__u32 mid = (lo + hi + 1) / 2;
		if (bpf_xdp_adjust_head(ctx, -(int)mid) == 0) {
			bpf_xdp_adjust_head(ctx, (int)mid);
			lo = mid;
		} else {
			hi = mid - 1;
		}
	}
	return lo;
}

/* Metadata length must be a multiple of 4: search in units of 4 bytes. */
static __always_inline __u32 search_meta(struct xdp_md *ctx)
{
	__u32 lo = 0, hi = 1024;
	for (int i = 0; i < 11; i++) {
		__u32 mid = (lo + hi + 1) / 2;
		if (bpf_xdp_adjust_meta(ctx, -(int)(4 * mid)) == 0) {
			bpf_xdp_adjust_meta(ctx, (int)(4 * mid));
			lo = mid;
		} else {
			hi = mid - 1;
		}
	}
	return 4 * lo;
}

static __always_inline __u32 search_tail(struct xdp_md *ctx)
{
	__u32 lo = 0, hi = 8192;
	for (int i = 0; i < 15; i++) {
		__u32 mid = (lo + hi + 1) / 2;
		if (bpf_xdp_adjust_tail(ctx, (int)mid) == 0) {
			bpf_xdp_adjust_tail(ctx, -(int)mid);
			lo = mid;
		} else {
			hi = mid - 1;
		}
	}
	return lo;
}

static __always_inline __u32 search_shrink(struct xdp_md *ctx)
{
	__u32 lo = 0, hi = 8192;
	for (int i = 0; i < 15; i++) {
		__u32 mid = (lo + hi + 1) / 2;
		if (bpf_xdp_adjust_tail(ctx, -(int)mid) == 0) {
			bpf_xdp_adjust_tail(ctx, (int)mid);
			lo = mid;
		} else {
			hi = mid - 1;
		}
	}
	return lo;
}

SEC("xdp")
int probe_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	void *meta = (void *)(long)ctx->data_meta;
	__u32 len = data_end - data;

	xdp_env.len = len;
	xdp_env.meta_len = data - meta;
	xdp_env.ingress_ifindex = ctx->ingress_ifindex;
	xdp_env.rx_queue_index = ctx->rx_queue_index;
	if (data + 16 <= data_end)
		__builtin_memcpy(xdp_env.first, data, 16);
	xdp_env.headroom = search_head(ctx);
	xdp_env.metaroom = search_meta(ctx);
	xdp_env.tailroom = search_tail(ctx);
	xdp_env.min_len = len - search_shrink(ctx);
	xdp_env.runs++;
	return XDP_PASS;
}

/* Returns a value outside enum xdp_action. */
SEC("xdp")
int probe_xdp_ret7(struct xdp_md *ctx)
{
	return 7;
}

static __always_inline void fill_common(struct skb_env *e, struct __sk_buff *skb)
{
	e->len = skb->len;
	e->pkt_type = skb->pkt_type;
	e->mark = skb->mark;
	e->queue_mapping = skb->queue_mapping;
	e->protocol = skb->protocol;
	e->vlan_present = skb->vlan_present;
	e->vlan_tci = skb->vlan_tci;
	e->vlan_proto = skb->vlan_proto;
	e->priority = skb->priority;
	e->ingress_ifindex = skb->ingress_ifindex;
	e->ifindex = skb->ifindex;
	e->tc_index = skb->tc_index;
	e->cb[0] = skb->cb[0];
	e->cb[1] = skb->cb[1];
	e->cb[2] = skb->cb[2];
	e->cb[3] = skb->cb[3];
	e->cb[4] = skb->cb[4];
	e->hash = skb->hash;
	e->napi_id = skb->napi_id;
	e->ld_abs0 = load_byte(skb, 0);
	e->ld_abs12 = load_half(skb, 12);
	bpf_skb_load_bytes(skb, 0, e->first, 16);
	e->runs++;
}

SEC("socket")
int probe_socket(struct __sk_buff *skb)
{
	fill_common(&sock_env, skb);
	return skb->len;
}

/* Returns -1, the "whole packet" value of classic socket filters. */
SEC("socket")
int probe_socket_neg(struct __sk_buff *skb)
{
	return -1;
}

SEC("tc")
int probe_tc(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	void *meta = (void *)(long)skb->data_meta;

	fill_common(&tc_env, skb);
	tc_env.pkt_len = data_end - data;
	tc_env.meta_len = data - meta;
	tc_env.wire_len = skb->wire_len;
	tc_env.gso_segs = skb->gso_segs;
	tc_env.gso_size = skb->gso_size;
	tc_env.tc_classid = skb->tc_classid;
	tc_env.tstamp = skb->tstamp;
	skb->mark = 0x1234;
	skb->priority = 7;
	skb->cb[1] = 0xabcd;
	return 1234;
}
