/* Programs that call the skb helpers that move, resize or annotate the
 * packet (and bpf_fib_lookup, bpf_clone_redirect) with arguments from cb[]
 * of the __sk_buff given as ctx_in (XDP: from the packet), so that one
 * object serves a table of cases. Results go to r0 (one byte or half-word
 * per call), and what the helpers change shows in data_out and in cb[] of
 * ctx_out, which report() fills from the __sk_buff. */
#include <xebpf/bpf.h>

static long (*clone_redirect)(void *skb, __u32 ifindex, __u64 flags) = (void *)13;
static long (*vlan_push)(void *skb, __u16 proto, __u16 tci) = (void *)18;
static long (*vlan_pop)(void *skb) = (void *)19;
static long (*get_tunnel_key)(void *skb, void *key, __u32 size, __u64 flags) = (void *)20;
static long (*set_tunnel_key)(void *skb, const void *key, __u32 size, __u64 flags) = (void *)21;
static long (*skb_store_bytes)(void *skb, __u32 offset, const void *from, __u32 len, __u64 flags) = (void *)9;
static long (*change_proto)(void *skb, __u16 proto, __u64 flags) = (void *)31;
static long (*change_tail)(void *skb, __u32 len, __u64 flags) = (void *)38;
static long (*change_head)(void *skb, __u32 len, __u64 flags) = (void *)43;
static long (*set_hash)(void *skb, __u32 hash) = (void *)48;
static long (*adjust_room)(void *skb, __s32 len_diff, __u32 mode, __u64 flags) = (void *)50;
static long (*load_bytes_relative)(const void *skb, __u32 offset, void *to, __u32 len, __u32 start) = (void *)68;
static long (*fib_lookup)(void *ctx, void *params, int plen, __u32 flags) = (void *)69;
static long (*xdp_load_bytes)(struct xdp_md *ctx, __u32 offset, void *buf, __u32 len) = (void *)189;

/* report: cb[0] len | protocol << 16, cb[1] vlan_proto << 16 | vlan_tci,
 * cb[2] vlan_present | hash << 8, cb[3] the 4 bytes at the network header
 * (or the error), cb[4] the 4 bytes 12 after the MAC header. */
static __always_inline void report(struct __sk_buff *skb)
{
	__u32 n = 0, m = 0;
	long rn = load_bytes_relative(skb, 0, &n, 4, 1);
	long rm = load_bytes_relative(skb, 12, &m, 4, 0);
	skb->cb[0] = skb->len | skb->protocol << 16;
	skb->cb[1] = skb->vlan_proto << 16 | skb->vlan_tci;
	skb->cb[2] = skb->vlan_present | skb->hash << 8;
	skb->cb[3] = rn ? rn : n;
	skb->cb[4] = rm ? rm : m;
}

static __always_inline long vlan_op(struct __sk_buff *skb, __u32 op, __u32 arg)
{
	if (op == 1)
		return vlan_push(skb, arg & 0xffff, arg >> 16);
	if (op == 2)
		return vlan_pop(skb);
	return 0x7f;
}

/* Up to three VLAN operations, cb[0] bits 0-1, 2-3, 4-5 (1 push with
 * cb[1+i] = proto | tci << 16, 2 pop). */
SEC("tc")
int tc_vlan(struct __sk_buff *skb)
{
	__u32 ops = skb->cb[0], a1 = skb->cb[1], a2 = skb->cb[2], a3 = skb->cb[3];
	long r1 = vlan_op(skb, ops & 3, a1);
	long r2 = vlan_op(skb, ops >> 2 & 3, a2);
	long r3 = vlan_op(skb, ops >> 4 & 3, a3);
	report(skb);
	return (r1 & 0xff) | (r2 & 0xff) << 8 | (r3 & 0xff) << 16;
}

/* change_proto(cb[1], cb[2]), then change_proto(cb[3], 0) if cb[3]. */
SEC("tc")
int tc_proto(struct __sk_buff *skb)
{
	__u32 p1 = skb->cb[1], f1 = skb->cb[2], p2 = skb->cb[3];
	set_hash(skb, 77);
	long r1 = change_proto(skb, p1, f1);
	long r2 = p2 ? change_proto(skb, p2, 0) : 0x7f;
	report(skb);
	return (r1 & 0xffff) | (r2 & 0xffff) << 16;
}

/* change_tail(cb[1], cb[2]), then change_tail(cb[3], 0) if cb[3]. */
SEC("tc")
int tc_tail(struct __sk_buff *skb)
{
	__u32 l1 = skb->cb[1], f1 = skb->cb[2], l2 = skb->cb[3];
	long r1 = change_tail(skb, l1, f1);
	long r2 = l2 ? change_tail(skb, l2, 0) : 0x7f;
	report(skb);
	return (r1 & 0xffff) | (r2 & 0xffff) << 16;
}

/* change_head(cb[1], cb[2]), then change_tail(len - cb[3]) if cb[3]. */
SEC("tc")
int tc_head(struct __sk_buff *skb)
{
	__u32 h = skb->cb[1], f = skb->cb[2], t = skb->cb[3];
	long r1 = change_head(skb, h, f);
	long r2 = t ? change_tail(skb, skb->len - t, 0) : 0x7f;
	report(skb);
	return (r1 & 0xffff) | (r2 & 0xffff) << 16;
}

/* change_tail(cb[2]) after change_head(cb[3]) (cb[1] = 0) or after
 * adjust_room(cb[3]) and, if cb[4], adjust_room(cb[4]) at the MAC header
 * (cb[1] = 1): where __bpf_skb_min_len puts the shortest length once the
 * headers have moved. */
SEC("tc")
int tc_min_len(struct __sk_buff *skb)
{
	__u32 op = skb->cb[1], l = skb->cb[2];
	long r1;
	if (op == 0) {
		r1 = change_head(skb, skb->cb[3], 0);
	} else {
		r1 = adjust_room(skb, (__s32)skb->cb[3], 1, 0);
		if (!r1 && skb->cb[4])
			r1 = adjust_room(skb, (__s32)skb->cb[4], 1, 0);
	}
	long r2 = change_tail(skb, l, 0);
	report(skb);
	return (r1 & 0xffff) | (r2 & 0xffff) << 16;
}

/* adjust_room(cb[1], cb[2] & 0xff, cb[3] | cb[4] << 32); with cb[2] bit 8
 * then the same call again, with bit 9 change_tail(len, 0), with bit 10
 * change_proto to IPv4 and with bit 11 change_tail(len - 1, 0). */
SEC("tc")
int tc_room(struct __sk_buff *skb)
{
	__s32 diff = skb->cb[1];
	__u32 mode = skb->cb[2];
	__u64 flags = skb->cb[3] | (__u64)skb->cb[4] << 32;
	long r1 = adjust_room(skb, diff, mode & 0xff, flags);
	long r2 = 0x7f;
	if (mode & 0x100)
		r2 = adjust_room(skb, diff, mode & 0xff, flags);
	if (mode & 0x200)
		r2 = change_tail(skb, skb->len, 0);
	if (mode & 0x400)
		r2 = change_proto(skb, bpf_htons(ETH_P_IP), 0);
	if (mode & 0x800)
		r2 = change_tail(skb, skb->len - 1, 0);
	report(skb);
	return (r1 & 0xffff) | (r2 & 0xffff) << 16;
}

/* load_bytes_relative(cb[1], buf, 8 or (cb[4] set) 2, cb[2]) after an
 * optional change_proto (cb[3] = 1: to IPv6, 2: to IPv4). */
static __always_inline int relative(struct __sk_buff *skb)
{
	__u32 off = skb->cb[1], start = skb->cb[2], small = skb->cb[4];
	__u32 buf[2] = {0xaaaaaaaa, 0xaaaaaaaa};
	long r = small ? load_bytes_relative(skb, off, buf, 2, start) : load_bytes_relative(skb, off, buf, 8, start);
	skb->cb[0] = r;
	skb->cb[1] = buf[0];
	skb->cb[2] = buf[1];
	return 0;
}

SEC("tc")
int tc_relative(struct __sk_buff *skb)
{
	if (skb->cb[3] == 1)
		change_proto(skb, bpf_htons(ETH_P_IPV6), 0);
	if (skb->cb[3] == 2)
		change_proto(skb, bpf_htons(ETH_P_IP), 0);
	return relative(skb);
}

SEC("socket")
int sock_relative(struct __sk_buff *skb)
{
	return relative(skb);
}

/* set_tunnel_key then get_tunnel_key: cb[0] byte 0 selects the set size
 * (0: 44, 1: 28, 2: 24, 3: 22, 4: 8, 5: 40, 6: no set), byte 1 the set
 * flags, byte 2 the get size likewise, byte 3 the get flags. The key set
 * holds cb[1] (id), cb[2] (addresses), cb[3] (tos, ttl, ext) and cb[4]
 * (label); the key got goes to the packet at offset 14. */
SEC("tc")
int tc_tunnel(struct __sk_buff *skb)
{
	__u32 sel = skb->cb[0], a = skb->cb[2];
	__u32 key[11] = {skb->cb[1], a, a ^ 1, a ^ 2, a ^ 3, skb->cb[3], skb->cb[4], a ^ 0x55, a ^ 0x56, a ^ 0x57, a ^ 0x58};
	__u32 out[11];
	__builtin_memset(out, 0xaa, sizeof(out));
	__u64 sf = sel >> 8 & 0xff, gf = sel >> 24;
	long rs = 0x7f, rg = 0x7f;
	switch (sel & 0xff) {
	case 0: rs = set_tunnel_key(skb, key, 44, sf); break;
	case 1: rs = set_tunnel_key(skb, key, 28, sf); break;
	case 2: rs = set_tunnel_key(skb, key, 24, sf); break;
	case 3: rs = set_tunnel_key(skb, key, 22, sf); break;
	case 4: rs = set_tunnel_key(skb, key, 8, sf); break;
	case 5: rs = set_tunnel_key(skb, key, 40, sf); break;
	}
	switch (sel >> 16 & 0xff) {
	case 0: rg = get_tunnel_key(skb, out, 44, gf); break;
	case 1: rg = get_tunnel_key(skb, out, 28, gf); break;
	case 2: rg = get_tunnel_key(skb, out, 24, gf); break;
	case 3: rg = get_tunnel_key(skb, out, 22, gf); break;
	case 4: rg = get_tunnel_key(skb, out, 8, gf); break;
	case 5: rg = get_tunnel_key(skb, out, 40, gf); break;
	}
	skb_store_bytes(skb, 14, out, sizeof(out), 0);
	return (rs & 0xff) | (rg & 0xff) << 8;
}

SEC("tc")
int tc_clone(struct __sk_buff *skb)
{
	__u32 ifindex = skb->cb[1], flags = skb->cb[2], t = skb->cb[3];
	if (t)
		change_tail(skb, t, 0);
	long r = clone_redirect(skb, ifindex, flags);
	report(skb);
	return r;
}

/* bpf_fib_lookup on the 64 bytes at offset 14 (written back there), with
 * flags cb[1] and plen 64, or 60 (cb[2] = 1) or 72 (cb[2] = 2). */
SEC("tc")
int tc_fib(struct __sk_buff *skb)
{
	__u8 params[72] = {};
	__u32 flags = skb->cb[1], sel = skb->cb[2];
	if (bpf_skb_load_bytes(skb, 14, params, 64))
		return 1000;
	long r = sel == 1 ? fib_lookup(skb, params, 60, flags) : sel == 2 ? fib_lookup(skb, params, 72, flags) : fib_lookup(skb, params, 64, flags);
	skb_store_bytes(skb, 14, params, 64, 0);
	return r;
}

/* The XDP bpf_fib_lookup on the 64 bytes at offset 14 (written back), with
 * the flags in bytes 78-79. */
SEC("xdp")
int xdp_fib(struct xdp_md *ctx)
{
	__u8 params[64] = {};
	__u16 flags = 0;
	if (xdp_load_bytes(ctx, 14, params, 64) || xdp_load_bytes(ctx, 78, &flags, 2))
		return 1000;
	long r = fib_lookup(ctx, params, 64, flags);
	bpf_xdp_store_bytes(ctx, 14, params, 64);
	return r;
}

char _license[] SEC("license") = "GPL";
