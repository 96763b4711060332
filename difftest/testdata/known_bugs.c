/* Minimal reproductions of the differences with the kernel that the corpus
 * comparison found: one program per helper xebpf lacked, each returning the
 * helper's result (now regression tests, skbhelpers_test.go), and a socket
 * filter reading the packet with LD_ABS at the classic negative offsets
 * SKF_LL_OFF and SKF_NET_OFF (knownbugs_test.go). */
#include "xebpf/bpf.h"

static long (*fib_lookup)(void *ctx, void *params, int plen, __u32 flags) = (void *)69;
static long (*vlan_push)(struct __sk_buff *skb, __u16 proto, __u16 tci) = (void *)18;
static long (*clone_redirect)(struct __sk_buff *skb, __u32 ifindex, __u64 flags) = (void *)13;
static long (*get_tunnel_key)(struct __sk_buff *skb, void *key, __u32 size, __u64 flags) = (void *)20;
static long (*change_proto)(struct __sk_buff *skb, __u16 proto, __u64 flags) = (void *)31;
static long (*change_tail)(struct __sk_buff *skb, __u32 len, __u64 flags) = (void *)38;

/* bpf_fib_lookup with a family that is neither AF_INET nor AF_INET6:
 * -EAFNOSUPPORT whatever the host's routes and forwarding sysctls (which
 * decide every AF_INET answer: with forwarding off, 127.0.0.1 on the
 * loopback gives BPF_FIB_LKUP_RET_FWD_DISABLED). */
SEC("xdp")
int xdp_fib(struct xdp_md *ctx)
{
	__u8 params[64] = {};
	params[0] = 1;                      /* family AF_UNIX */
	*(__u32 *)&params[8] = 1;           /* ifindex: lo */
	*(__u32 *)&params[32] = 0x0100007f; /* ipv4_dst 127.0.0.1 */
	return fib_lookup(ctx, params, sizeof(params), 0);
}

SEC("tc")
int tc_vlan_push(struct __sk_buff *skb)
{
	return vlan_push(skb, bpf_htons(0x8100), 5);
}

/* No device has ifindex 0xfffff: -EINVAL without side effects. */
SEC("tc")
int tc_clone_redirect(struct __sk_buff *skb)
{
	return clone_redirect(skb, 0xfffff, 0);
}

/* A test run's skb carries no tunnel metadata: an error (-EINVAL on Linux
 * 6.18), key zeroed. */
SEC("tc")
int tc_tunnel_key(struct __sk_buff *skb)
{
	__u8 key[44];
	__builtin_memset(key, 0xaa, sizeof(key));
	long rc = get_tunnel_key(skb, key, sizeof(key), 0);
	return rc * 256 + key[0];
}

SEC("tc")
int tc_change_proto(struct __sk_buff *skb)
{
	return change_proto(skb, bpf_htons(ETH_P_IPV6), 0);
}

SEC("tc")
int tc_change_tail(struct __sk_buff *skb)
{
	return change_tail(skb, skb->len + 10, 0);
}

/* LD_ABS at SKF_LL_OFF (-0x200000) counts from the Ethernet header, at
 * SKF_NET_OFF (-0x100000) from the network header: the IPv4 source
 * address plus the IPv4 total length. */
SEC("socket")
int sock_ld_neg(struct __sk_buff *skb)
{
	return load_word(skb, -0x200000 + 26) + load_half(skb, -0x100000 + 2);
}

char _license[] SEC("license") = "GPL";

/* Two VLAN pushes: the second moves the first tag into the frame, so the
 * MAC header moves 4 bytes back; LD_ABS at SKF_LL_OFF+12 must then read the
 * 802.1Q TPID there, as Linux's skb_mac_header has moved. */
SEC("tc")
int tc_ld_after_push(struct __sk_buff *skb)
{
	if (vlan_push(skb, bpf_htons(0x8100), 5) || vlan_push(skb, bpf_htons(0x8100), 6))
		return -1;
	return load_half(skb, -0x200000 + 12);
}
