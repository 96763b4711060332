package difftest

import "testing"

// Reproductions of the differences the corpus comparison found while
// xebpf lacked these helpers (the programs are in testdata/known_bugs.c),
// now regression tests: each result is checked against Linux's, measured
// on Linux 6.18, and xebpf's run against the kernel's.

// TestFibLookupFamily: bpf_fib_lookup with a family other than AF_INET
// and AF_INET6 returns -EAFNOSUPPORT (cilium's nodeport tail calls,
// samples/bpf xdp_fwd).
func TestFibLookupFamily(t *testing.T) {
	compareKnown(t, "xdp_fib", ipv4UDP(), uint32(0xffffff9f))
}

// TestSkbVlanPush: bpf_skb_vlan_push returns 0; a test-run skb takes the
// tag in its accelerated slot, so data_out is unchanged (prototype-kernel
// xdp_vlan01's tc_vlan_push).
func TestSkbVlanPush(t *testing.T) {
	compareKnown(t, "tc_vlan_push", ipv4UDP(), 0)
}

// TestCloneRedirectMissingDevice: bpf_clone_redirect to a missing ifindex
// returns -EINVAL (samples/bpf tcbpf1_kern.o).
func TestCloneRedirectMissingDevice(t *testing.T) {
	compareKnown(t, "tc_clone_redirect", ipv4UDP(), uint32(0xffffffea))
}

// TestSkbGetTunnelKey: without tunnel metadata, bpf_skb_get_tunnel_key
// returns -EINVAL and zeroes the key (cilium's bpf_overlay.o).
func TestSkbGetTunnelKey(t *testing.T) {
	compareKnown(t, "tc_tunnel_key", ipv4UDP(), uint32(0xffffea00))
}

// TestSkbChangeProto: bpf_skb_change_proto to IPv6 on an IPv4 frame
// returns 0 and inserts 20 zero bytes after the Ethernet header (cilium's
// NAT46 tail calls).
func TestSkbChangeProto(t *testing.T) {
	compareKnown(t, "tc_change_proto", ipv4UDP(), 0)
}

// TestSkbChangeTail: bpf_skb_change_tail by +10 bytes returns 0 and the
// frame grows by 10 zero bytes (cilium's ICMPv6 time exceeded).
func TestSkbChangeTail(t *testing.T) {
	compareKnown(t, "tc_change_tail", ipv4UDP(), 0)
}
